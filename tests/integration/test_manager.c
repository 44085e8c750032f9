/* The fleet manager's embedded default end to end: a site in a temporary folder, the bundled
 * Fashion-MNIST CNN deployed to the in-process local node, inference on real test images,
 * rollback, node and site status, measured figures in the model list, clear errors, and a
 * reopened site that finds everything recorded. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edgeml/edgeml.h"
#include "fashion_util.h"
#include "harness.h"

#define SITE "factory-edge-01"

static char work[512], model_path[1024];
static eml_env *env;
static eml_tensor images, labels; /* t10k, uint8 [10000,28,28] and [10000] */

static void setup(void)
{
    const char *src = eml_test_source_dir();
    if (!src)
        eml_test_skip("EML_SOURCE_DIR not set");
    snprintf(model_path, sizeof(model_path), "%s/models/fashion_cnn/model.onnx", src);
    if (access(model_path, R_OK) != 0)
        eml_test_skip("models/fashion_cnn/model.onnx not found");
    if (access(FASHION_TEST_IMAGES, R_OK) != 0)
        eml_test_skip("dataset-fashion-mnist is not installed");
    const char *tmp = getenv("TMPDIR");
    snprintf(work, sizeof(work), "%s/eml_manager_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(work) != NULL);
    eml_env_options eo;
    eml_env_options_init(&eo);
    eo.n_threads = 1;
    REQUIRE(eml_env_create(&eo, &env) == EML_OK);
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_tensor_read_idx(env, FASHION_TEST_IMAGES, &images, &d), &d);
    REQUIRE_OK(eml_tensor_read_idx(env, FASHION_TEST_LABELS, &labels, &d), &d);
    REQUIRE(images.dtype == EML_DTYPE_U8 && images.rank == 3 && labels.dtype == EML_DTYPE_U8);
}

static void teardown(void)
{
    eml_tensor_free(env, &images);
    eml_tensor_free(env, &labels);
    eml_env_destroy(env);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", work);
}

static eml_manager *open_site(void)
{
    eml_manager_options o;
    eml_manager_options_init(&o);
    o.home = work;
    o.n_threads = 1;
    eml_manager *m = NULL;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_manager_open(SITE, &o, &m, &d), &d);
    return m;
}

/* Test image i as float32 [1,1,28,28] = pixel/255 (the model's preprocessing). */
static eml_tensor image(float *buf, size_t i)
{
    const uint8_t *px = (const uint8_t *)images.data + i * 784;
    for (int k = 0; k < 784; k++)
        buf[k] = px[k] / 255.0f;
    eml_tensor t = {EML_DTYPE_F32, 4, {1, 1, 28, 28}, buf};
    return t;
}

static int argmax10(const eml_tensor *t)
{
    const float *s = t->data;
    int best = 0;
    for (int k = 1; k < 10; k++)
        if (s[k] > s[best])
            best = k;
    return best;
}

static eml_status deploy(eml_manager *m, const char *file, eml_deploy_result *r, eml_diag *d)
{
    eml_model_descriptor desc;
    eml_model_descriptor_init(&desc);
    desc.id = "fashion_cnn";
    desc.name = "Fashion CNN";
    desc.type = "classification";
    desc.file = file;
    desc.input_rank = 4;
    int64_t in[4] = {1, 1, 28, 28};
    memcpy(desc.input_shape, in, sizeof(in));
    desc.output_rank = 2;
    desc.output_shape[0] = 1;
    desc.output_shape[1] = 10;
    return eml_manager_deploy(m, &desc, "local", r, d);
}

/* The fashion_cnn entry of the model list. */
static int find_model(eml_manager *m, eml_model_info *out)
{
    eml_model_info *list = NULL;
    size_t n = 0;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_manager_models(m, &list, &n, &d), &d);
    int found = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].id, "fashion_cnn") == 0) {
            *out = list[i];
            found = 1;
        }
    eml_manager_free(list);
    return found;
}

EML_TEST(site_deploy_infer_rollback_reopen)
{
    setup();
    eml_diag d;
    eml_diag_init(&d);
    eml_manager *m = open_site();

    /* A new site: its local node, no model yet, nothing measured. */
    eml_site_status ss;
    REQUIRE_OK(eml_manager_status(m, &ss, &d), &d);
    CHECK(ss.nodes_total == 1 && ss.nodes_online == 1 && ss.models_total == 0);
    CHECK(strcmp(ss.site, SITE) == 0);

    eml_deploy_result r1, r2;
    REQUIRE_OK(deploy(m, model_path, &r1, &d), &d);
    CHECK(r1.version == 1 && r1.node_version == 1 && r1.model_bytes > 100000);
    CHECK(strlen(r1.sha256) == 64);

    /* Real test images: the served model gets the labelled class of the first one (9, ankle
     * boot) and of most of the first 20. */
    float buf[784];
    int right = 0;
    for (size_t i = 0; i < 20; i++) {
        eml_tensor in = image(buf, i);
        eml_infer_result ir;
        REQUIRE_OK(eml_manager_infer(m, "local", "fashion_cnn", &in, 1, &ir, &d), &d);
        REQUIRE(ir.output_count == 1);
        CHECK(ir.outputs[0].tensor.dtype == EML_DTYPE_F32 && ir.outputs[0].tensor.rank == 2 &&
              ir.outputs[0].tensor.dims[1] == 10);
        CHECK(ir.version == 1 && ir.inference_ms > 0);
        CHECK(strcmp(ir.model, "fashion_cnn") == 0 && strcmp(ir.node, "local") == 0);
        int cls = argmax10(&ir.outputs[0].tensor);
        if (i == 0)
            CHECK(cls == 9 && ((const uint8_t *)labels.data)[0] == 9);
        right += cls == ((const uint8_t *)labels.data)[i];
        eml_infer_result_deinit(&ir);
    }
    CHECK(right >= 16);

    /* A second, different file of the same model: site version 2 on node version 2. */
    char opt_path[700];
    snprintf(opt_path, sizeof(opt_path), "%s/optimized.onnx", work);
    {
        eml_graph *g = NULL;
        REQUIRE_OK(eml_graph_load_onnx(env, model_path, &g, &d), &d);
        eml_optimize_options oo;
        eml_optimize_options_init(&oo);
        oo.level = 1;
        REQUIRE_OK(eml_graph_optimize(g, &oo, NULL, &d), &d);
        REQUIRE_OK(eml_graph_save_onnx(g, opt_path, &d), &d);
        eml_graph_destroy(g);
    }
    REQUIRE_OK(deploy(m, opt_path, &r2, &d), &d);
    CHECK(r2.version == 2 && r2.node_version == 2);
    CHECK(strcmp(r2.sha256, r1.sha256) != 0);
    /* The same file again is the same site version, a new node version. */
    eml_deploy_result r3;
    REQUIRE_OK(deploy(m, opt_path, &r3, &d), &d);
    CHECK(r3.version == 2 && r3.node_version == 3);

    uint32_t serving = 0;
    REQUIRE_OK(eml_manager_rollback(m, "local", "fashion_cnn", 1, &serving, &d), &d);
    CHECK(serving == 1);
    eml_node_info ni;
    REQUIRE_OK(eml_manager_node_status(m, "local", &ni, &d), &d);
    CHECK(ni.online && strcmp(ni.transport, "local") == 0 && ni.cpu_count >= 1);
    CHECK(ni.device_type[0] != 0 && ni.last_seen_unix > 0);
    CHECK(ni.has_memory && ni.memory_available_bytes > 0);
    REQUIRE(ni.model_count == 1);
    CHECK(strcmp(ni.models[0].model, "fashion_cnn") == 0 && ni.models[0].version == 1);
    CHECK(ni.models[0].site_version == 1);
    eml_node_info_deinit(&ni);

    /* Before any measurement: "not measured". */
    eml_model_info mi;
    REQUIRE(find_model(m, &mi));
    CHECK(!mi.latency_ms.has && !mi.accuracy_pct.has);
    CHECK(mi.latest_version == 2 && mi.nodes_serving == 1);
    CHECK(strcmp(mi.name, "Fashion CNN") == 0 && strcmp(mi.type, "classification") == 0);

    /* Measured: a benchmark on the node and an accuracy evaluation on 1000 test images. */
    eml_bench_options bo;
    eml_bench_options_init(&bo);
    bo.runs = 20;
    bo.warmup = 2;
    eml_bench_result br;
    REQUIRE_OK(eml_manager_bench(m, "local", "fashion_cnn", &bo, &br, &d), &d);
    CHECK(br.runs == 20 && br.batch == 1 && br.version == 1 && br.site_version == 1);
    CHECK(br.latency_ms_p50 > 0 && br.latency_ms_p99 >= br.latency_ms_p50);
    CHECK(br.throughput_ips > 0 && br.has_peak_memory && br.peak_memory_bytes > 0);
    eml_tensor sub = images, sublab = labels;
    sub.dims[0] = 1000;
    sublab.dims[0] = 1000;
    eml_tensor fsub = {EML_DTYPE_F32, 3, {1000, 28, 28}, malloc(1000 * 784 * sizeof(float))};
    for (size_t k = 0; k < 1000 * 784; k++)
        ((float *)fsub.data)[k] = ((const uint8_t *)sub.data)[k] / 255.0f;
    eml_eval_result ev;
    REQUIRE_OK(eml_manager_evaluate(m, "local", "fashion_cnn", &fsub, &sublab,
                                    "fashion-mnist t10k[0:1000]", &ev, &d),
               &d);
    CHECK(ev.count == 1000 && ev.top1_pct > 80 && ev.top1_pct <= 100);
    free(fsub.data);
    REQUIRE(find_model(m, &mi));
    CHECK(mi.latency_ms.has && mi.latency_ms.value == br.latency_ms_p50);
    CHECK(strcmp(mi.latency_ms.node, "local") == 0 && mi.latency_ms.measured_unix > 0);
    CHECK(mi.latency_ms.version == 1);
    CHECK(mi.accuracy_pct.has && fabs(mi.accuracy_pct.value - ev.top1_pct) < 1e-9);
    CHECK(strstr(mi.accuracy_dataset, "t10k[0:1000]") != NULL);

    REQUIRE_OK(eml_manager_status(m, &ss, &d), &d);
    CHECK(ss.models_total == 1 && ss.models_deployed == 1 && ss.deployments == 1);
    eml_manager_close(m);

    /* Reopened: everything recorded is there, and the node still serves version 1. */
    m = open_site();
    REQUIRE(find_model(m, &mi));
    CHECK(mi.latest_version == 2 && mi.latency_ms.has && mi.accuracy_pct.has);
    CHECK(mi.latency_ms.value == br.latency_ms_p50);
    REQUIRE_OK(eml_manager_node_status(m, "local", &ni, &d), &d);
    CHECK(ni.model_count == 1 && ni.models[0].version == 1);
    eml_node_info_deinit(&ni);
    eml_tensor in = image(buf, 0);
    eml_infer_result ir;
    REQUIRE_OK(eml_manager_infer(m, "local", "fashion_cnn", &in, 1, &ir, &d), &d);
    CHECK(ir.version == 1 && ir.output_count == 1 && argmax10(&ir.outputs[0].tensor) == 9);
    eml_infer_result_deinit(&ir);
    eml_manager_close(m);
    teardown();
}

EML_TEST(site_errors_are_clear)
{
    setup();
    eml_diag d;
    eml_diag_init(&d);
    eml_manager *m = open_site();
    float buf[784];
    eml_tensor in = image(buf, 0);
    eml_infer_result ir;

    /* An unknown model, an unknown node. */
    CHECK_STATUS(eml_manager_infer(m, "local", "nope", &in, 1, &ir, &d), EML_ENOTFOUND);
    CHECK(strstr(d.message, "model 'nope' is not in site '" SITE "'") != NULL);
    eml_deploy_result r;
    REQUIRE_OK(deploy(m, model_path, &r, &d), &d);
    eml_diag_init(&d);
    CHECK_STATUS(eml_manager_infer(m, "edge-99", "fashion_cnn", &in, 1, &ir, &d), EML_ENOTFOUND);
    CHECK(strstr(d.message, "node 'edge-99' is not in site") != NULL);
    eml_node_info ni;
    CHECK_STATUS(eml_manager_node_status(m, "edge-99", &ni, &d), EML_ENOTFOUND);
    eml_node_info_deinit(&ni);
    CHECK_STATUS(eml_manager_rollback(m, "local", "nope", 0, NULL, &d), EML_ENOTFOUND);
    /* Nothing earlier to roll back to. */
    eml_diag_init(&d);
    CHECK_STATUS(eml_manager_rollback(m, "local", "fashion_cnn", 0, NULL, &d), EML_ENOTFOUND);
    CHECK(d.message[0] != 0);

    /* A node of another transport, without a broker: offline. */
    REQUIRE_OK(eml_manager_node_add(m, "edge-02", "mqtt", &d), &d);
    CHECK_STATUS(eml_manager_node_add(m, "edge-02", "mqtt", &d), EML_EINVAL);
    eml_diag_init(&d);
    CHECK_STATUS(eml_manager_infer(m, "edge-02", "fashion_cnn", &in, 1, &ir, &d), EML_EIO);
    CHECK(strstr(d.message, "node 'edge-02' is offline") != NULL);
    REQUIRE_OK(eml_manager_node_status(m, "edge-02", &ni, &d), &d);
    CHECK(!ni.online && ni.last_seen_unix == 0 && strcmp(ni.transport, "mqtt") == 0);
    eml_node_info_deinit(&ni);
    eml_site_status ss;
    REQUIRE_OK(eml_manager_status(m, &ss, &d), &d);
    CHECK(ss.nodes_total == 2 && ss.nodes_online == 1);

    /* Inputs that do not fit, a descriptor whose shapes differ, a missing file. */
    eml_tensor bad = in;
    bad.dims[3] = 27;
    eml_diag_init(&d);
    CHECK_STATUS(eml_manager_infer(m, "local", "fashion_cnn", &bad, 1, &ir, &d), EML_ESHAPE);
    CHECK(d.message[0] != 0);
    CHECK_STATUS(eml_manager_infer(m, "local", "fashion_cnn", &in, 2, &ir, &d), EML_EINVAL);
    eml_model_descriptor desc;
    eml_model_descriptor_init(&desc);
    desc.id = "other";
    desc.file = model_path;
    desc.input_rank = 4;
    int64_t wrong[4] = {1, 3, 224, 224};
    memcpy(desc.input_shape, wrong, sizeof(wrong));
    eml_diag_init(&d);
    CHECK_STATUS(eml_manager_deploy(m, &desc, "local", &r, &d), EML_ESHAPE);
    CHECK(strstr(d.message, "input 'input'") != NULL);
    desc.input_rank = 0;
    desc.file = "/nonexistent/model.onnx";
    CHECK_STATUS(eml_manager_deploy(m, &desc, "local", &r, &d), EML_ENOTFOUND);
    desc.id = "bad/id";
    CHECK_STATUS(eml_manager_deploy(m, &desc, "local", &r, &d), EML_EINVAL);
    /* A failed deploy leaves no model behind. */
    eml_model_info mi;
    CHECK_STATUS(eml_manager_model(m, "other", &mi, &d), EML_ENOTFOUND);
    eml_manager_close(m);

    /* Bad site names, a missing site without create, a broker. */
    eml_manager_options o;
    eml_manager_options_init(&o);
    o.home = work;
    CHECK_STATUS(eml_manager_open("../x", &o, &m, &d), EML_EINVAL);
    o.create = 0;
    CHECK_STATUS(eml_manager_open("no-such-site", &o, &m, &d), EML_ENOTFOUND);
    o.create = 1;
    o.broker = "mqtt://127.0.0.1:1"; /* nothing listens there: a clear error naming it */
    CHECK_STATUS(eml_manager_open(SITE, &o, &m, &d), EML_EIO);
    CHECK(strstr(d.message, "cannot reach broker mqtt://127.0.0.1:1") != NULL);
    o.broker = "http://127.0.0.1:1883";
    CHECK_STATUS(eml_manager_open(SITE, &o, &m, &d), EML_EINVAL);
    teardown();
}

EML_TEST(site_quantize_records_a_derived_model)
{
    setup();
    eml_diag d;
    eml_diag_init(&d);
    eml_manager *m = open_site();
    eml_deploy_result r;
    REQUIRE_OK(deploy(m, model_path, &r, &d), &d);
    eml_tensor calib = {EML_DTYPE_F32, 3, {100, 28, 28}, malloc(100 * 784 * sizeof(float))};
    for (size_t k = 0; k < 100 * 784; k++)
        ((float *)calib.data)[k] = ((const uint8_t *)images.data)[k] / 255.0f;
    eml_quantize_options qo;
    eml_quantize_options_init(&qo);
    qo.calib = &calib;
    eml_derive_result dr;
    REQUIRE_OK(eml_manager_quantize(m, "fashion_cnn", NULL, &qo, &dr, &d), &d);
    free(calib.data);
    CHECK(strcmp(dr.id, "fashion_cnn-int8") == 0 && dr.version == 1);
    CHECK(dr.bytes_after > 0 && dr.bytes_after < dr.bytes_before);
    eml_model_info mi;
    REQUIRE_OK(eml_manager_model(m, "fashion_cnn-int8", &mi, &d), &d);
    CHECK(strcmp(mi.parent, "fashion_cnn") == 0 && strcmp(mi.derivation, "int8") == 0);
    CHECK(mi.nodes_serving == 0 && !mi.latency_ms.has);
    CHECK_STATUS(eml_manager_quantize(m, "nope", NULL, &qo, &dr, &d), EML_ENOTFOUND);
    /* The derived model deploys like any other, from the site's artifact store. */
    char art[1200];
    snprintf(art, sizeof(art), "%s/artifacts/%s.onnx", eml_manager_site_dir(m), mi.sha256);
    CHECK(access(art, R_OK) == 0);
    eml_model_descriptor desc;
    eml_model_descriptor_init(&desc);
    desc.id = "fashion_cnn-int8";
    desc.file = art;
    REQUIRE_OK(eml_manager_deploy(m, &desc, "local", &r, &d), &d);
    CHECK(r.version == 1 && r.node_version == 1);
    float buf[784];
    eml_tensor in = image(buf, 0);
    eml_infer_result ir;
    REQUIRE_OK(eml_manager_infer(m, "local", "fashion_cnn-int8", &in, 1, &ir, &d), &d);
    CHECK(argmax10(&ir.outputs[0].tensor) == 9);
    eml_infer_result_deinit(&ir);
    /* With no file, a deploy takes the model's latest site version: the same file again. */
    desc.file = NULL;
    REQUIRE_OK(eml_manager_deploy(m, &desc, "local", &r, &d), &d);
    CHECK(r.version == 1 && strcmp(r.sha256, mi.sha256) == 0);
    desc.id = "nope";
    CHECK_STATUS(eml_manager_deploy(m, &desc, "local", &r, &d), EML_ENOTFOUND);
    CHECK(strstr(d.message, "give its file") != NULL);
    eml_manager_close(m);
    teardown();
}

EML_TEST(site_prune_records_a_derived_model)
{
    setup();
    eml_diag d;
    eml_diag_init(&d);
    eml_manager *m = open_site();
    eml_deploy_result r;
    REQUIRE_OK(deploy(m, model_path, &r, &d), &d);
    eml_prune_options po;
    eml_prune_options_init(&po);
    po.sparsity = 0.5f;
    eml_derive_result dr;
    REQUIRE_OK(eml_manager_prune(m, "fashion_cnn", NULL, &po, &dr, &d), &d);
    CHECK(strcmp(dr.id, "fashion_cnn-pruned50") == 0 && dr.version == 1);
    CHECK(dr.sparsity > 0.49 && dr.sparsity < 0.51);
    eml_model_info mi;
    REQUIRE_OK(eml_manager_model(m, "fashion_cnn-pruned50", &mi, &d), &d);
    CHECK(strcmp(mi.parent, "fashion_cnn") == 0 && strcmp(mi.derivation, "pruned 50%") == 0);
    CHECK(strcmp(mi.name, "Fashion CNN (pruned 50%)") == 0);
    /* Pruning again with the same options gives the same file: the same version. */
    REQUIRE_OK(eml_manager_prune(m, "fashion_cnn", NULL, &po, &dr, &d), &d);
    CHECK(dr.version == 1);
    po.sparsity = 1.5f;
    CHECK_STATUS(eml_manager_prune(m, "fashion_cnn", NULL, &po, &dr, &d), EML_EINVAL);
    /* A derived id that names a model of another lineage is refused. */
    po.sparsity = 0.3f;
    CHECK_STATUS(eml_manager_prune(m, "fashion_cnn-pruned50", "fashion_cnn", &po, &dr, &d),
                 EML_EINVAL);
    eml_manager_close(m);
    teardown();
}
