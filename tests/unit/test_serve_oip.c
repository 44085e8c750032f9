/* The agent's OIP tensor codec (src/agent/oip.c): datatypes, nested data, binary inputs,
 * outputs as JSON or binary, and randomly damaged requests refused without a crash. */
#include <string.h>

#include "agent/agent.h"
#include "harness.h"

static eml_env *env;
static eml_graph *graph;

static void setup(void)
{
    const char *src = eml_test_source_dir();
    if (!src)
        eml_test_skip("EML_SOURCE_DIR not set");
    char path[1024];
    snprintf(path, sizeof(path), "%s/models/fashion_cnn/model.onnx", src);
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    REQUIRE_OK(eml_graph_load_onnx(env, path, &graph, &d), &d);
}

static void teardown(void)
{
    eml_graph_destroy(graph);
    eml_env_destroy(env);
}

/* A request for one image whose pixel k is k/784, as flat or nested data. */
static char *request(int nested)
{
    cJSON *req = cJSON_CreateObject();
    cJSON *in = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(req, "inputs"), in);
    cJSON_AddStringToObject(in, "name", "input");
    cJSON_AddStringToObject(in, "datatype", "FP32");
    int shape[4] = {1, 1, 28, 28};
    cJSON_AddItemToObject(in, "shape", cJSON_CreateIntArray(shape, 4));
    cJSON *data = cJSON_AddArrayToObject(in, "data");
    for (int r = 0; r < 28; r++) {
        cJSON *row = nested ? cJSON_CreateArray() : data;
        for (int c = 0; c < 28; c++)
            cJSON_AddItemToArray(row, cJSON_CreateNumber((r * 28 + c) / 784.0));
        if (nested)
            cJSON_AddItemToArray(data, row);
    }
    char *s = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    return s;
}

EML_TEST(json_inputs_flat_and_nested)
{
    setup();
    for (int nested = 0; nested < 2; nested++) {
        char *s = request(nested);
        cJSON *req = cJSON_Parse(s);
        eml_tensor t;
        eml_diag d;
        eml_diag_init(&d);
        REQUIRE_OK(eml__oip_read_inputs(req, graph, NULL, 0, &t, &d), &d);
        CHECK(t.dtype == EML_DTYPE_F32 && t.rank == 4 && t.dims[3] == 28);
        CHECK(((float *)t.data)[783] == 783 / 784.0f);
        eml__tensors_free(&t, 1);
        cJSON_Delete(req);
        free(s);
    }
    teardown();
}

EML_TEST(binary_inputs_and_outputs)
{
    setup();
    const char *json = "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,1,28,28],\"datatype\":"
                       "\"FP32\",\"parameters\":{\"binary_data_size\":3136}}],"
                       "\"outputs\":[{\"name\":\"output\",\"parameters\":{\"binary_data\":true}}]}";
    float pixels[784];
    for (int i = 0; i < 784; i++)
        pixels[i] = (float)i;
    cJSON *req = cJSON_Parse(json);
    eml_tensor t;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml__oip_read_inputs(req, graph, (const uint8_t *)pixels, sizeof(pixels), &t, &d),
               &d);
    CHECK(memcmp(t.data, pixels, sizeof(pixels)) == 0);
    eml__tensors_free(&t, 1);
    /* too few and too many bytes */
    CHECK_STATUS(eml__oip_read_inputs(req, graph, (const uint8_t *)pixels, 100, &t, &d),
                 EML_EINVAL);
    uint8_t more[3200] = {0};
    CHECK_STATUS(eml__oip_read_inputs(req, graph, more, sizeof(more), &t, &d), EML_EINVAL);

    /* outputs: the binary one is appended, a JSON one carries data */
    float scores[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9.5f};
    eml_tensor out = {EML_DTYPE_F32, 2, {1, 10}, scores};
    cJSON *resp = cJSON_CreateObject();
    uint8_t *bin = NULL;
    size_t n = 0;
    REQUIRE_OK(eml__oip_write_outputs(req, graph, &out, 1, resp, &bin, &n, &d), &d);
    CHECK(n == 40 && memcmp(bin, scores, 40) == 0);
    char *s = cJSON_PrintUnformatted(resp);
    CHECK(strstr(s, "\"binary_data_size\":40") != NULL);
    free(s);
    free(bin);
    cJSON_Delete(resp);
    cJSON_Delete(req);
    req = cJSON_Parse("{\"inputs\":[]}");
    resp = cJSON_CreateObject();
    REQUIRE_OK(eml__oip_write_outputs(req, graph, &out, 1, resp, &bin, &n, &d), &d);
    s = cJSON_PrintUnformatted(resp);
    CHECK(n == 0 && strstr(s, "\"data\":[0,1,2,3,4,5,6,7,8,9.5]") != NULL);
    free(s);
    cJSON_Delete(resp);
    cJSON_Delete(req);
    req = cJSON_Parse("{\"outputs\":[{\"name\":\"nope\"}]}");
    resp = cJSON_CreateObject();
    CHECK_STATUS(eml__oip_write_outputs(req, graph, &out, 1, resp, &bin, &n, &d), EML_EINVAL);
    cJSON_Delete(resp);
    cJSON_Delete(req);
    teardown();
}

EML_TEST(datatypes_and_ranges)
{
    CHECK(eml__oip_dtype("FP32") == EML_DTYPE_F32 && eml__oip_dtype("INT64") == EML_DTYPE_I64);
    CHECK(eml__oip_dtype("BYTES") == EML_DTYPE_UNDEFINED && eml__oip_dtype(NULL) == 0);
    CHECK(strcmp(eml__oip_dtype_name(EML_DTYPE_BF16), "BF16") == 0);
    setup();
    const char *bad[] = {
        "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,1,28,28],\"datatype\":\"UINT8\","
        "\"data\":[256]}]}",
        "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,1,28,28],\"datatype\":\"INT8\","
        "\"data\":[1.5]}]}",
        "{\"inputs\":[{\"name\":\"input\",\"shape\":[-1,1,28,28],\"datatype\":\"FP32\","
        "\"data\":[1]}]}",
        "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,1,1,1,1,1,1,1,1],\"datatype\":\"FP32\","
        "\"data\":[1]}]}",
        "{\"inputs\":[{\"name\":\"input\",\"shape\":[100000000000,1000000],\"datatype\":"
        "\"FP32\",\"data\":[1]}]}",
        "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"BOOL\",\"data\":[2,1]}]}",
        "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":1}]}",
        "{\"inputs\":{}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cJSON *req = cJSON_Parse(bad[i]);
        eml_tensor t;
        eml_diag d;
        eml_diag_init(&d);
        eml_status st = eml__oip_read_inputs(req, graph, NULL, 0, &t, &d);
        if (st == EML_OK)
            fprintf(stderr, "accepted: %s\n", bad[i]);
        CHECK(st != EML_OK && d.message[0]);
        cJSON_Delete(req);
    }
    teardown();
}

EML_TEST(damaged_requests_never_crash)
{
    setup();
    char *good = request(1);
    size_t n = strlen(good);
    char *s = malloc(n + 1);
    int accepted = 0;
    for (int round = 0; round < 3000; round++) {
        memcpy(s, good, n + 1);
        int edits = 1 + (int)(eml_test_rand() % 4);
        for (int e = 0; e < edits; e++)
            s[eml_test_rand() % n] = "[]{},:\"0123456789-.eE tfnx"[eml_test_rand() % 26];
        cJSON *req = cJSON_Parse(s);
        eml_tensor t;
        eml_diag d;
        eml_diag_init(&d);
        uint8_t bin[64] = {0};
        if (eml__oip_read_inputs(req, graph, bin, eml_test_rand() % 2 ? 0 : sizeof(bin), &t,
                                 &d) == EML_OK) {
            accepted++;
            eml__tensors_free(&t, 1);
        }
        cJSON_Delete(req);
    }
    printf("%d of 3000 damaged requests still valid\n", accepted);
    free(s);
    free(good);
    teardown();
}
