/* Tests of eml__graph_verify: definitions, double producers, dangling inputs, cycles, outer
 * references of subgraphs, the topological order, and allocation failures. */
#include <string.h>

#include "graph/graph.h"
#include "harness.h"

static eml_graph *new_graph(eml_env *env, const eml_graph *parent)
{
    eml_graph *g = NULL;
    REQUIRE(eml__graph_create(env, parent, &g) == EML_OK);
    return g;
}

static int32_t val(eml_graph *g, const char *name)
{
    int32_t id;
    REQUIRE(eml__graph_value(g, name, &id) == EML_OK);
    return id;
}

static void input(eml_graph *g, const char *name)
{
    REQUIRE(eml__graph_add_input(g, val(g, name)) == EML_OK);
}

static void output(eml_graph *g, const char *name)
{
    REQUIRE(eml__graph_add_output(g, val(g, name)) == EML_OK);
}

static void initializer(eml_graph *g, const char *name)
{
    g->values[val(g, name)].flags |= EML_VALUE_INITIALIZER;
}

/* ins/outs: comma separated names, "" for an omitted optional one */
static eml_node *node(eml_graph *g, const char *name, const char *ins, const char *outs)
{
    const char *lists[2] = {ins, outs};
    char names[2][8][16];
    int counts[2] = {0, 0};
    for (int l = 0; l < 2; l++) {
        const char *p = lists[l];
        while (p && *p && counts[l] < 8) {
            const char *c = strchr(p, ',');
            size_t len = c ? (size_t)(c - p) : strlen(p);
            snprintf(names[l][counts[l]++], 16, "%.*s", (int)len, p);
            if (!c)
                break;
            p = c + 1;
            if (!*p)
                names[l][counts[l]++][0] = 0;
        }
    }
    eml_node *n;
    REQUIRE(eml__graph_add_node(g, name, "Op", "", counts[0], counts[1], 0, &n) == EML_OK);
    int32_t index = (int32_t)g->n_nodes - 1;
    for (int k = 0; k < counts[0]; k++)
        g->nodes[index].inputs[k] = names[0][k][0] ? val(g, names[0][k]) : -1;
    for (int k = 0; k < counts[1]; k++)
        g->nodes[index].outputs[k] = names[1][k][0] ? val(g, names[1][k]) : -1;
    return &g->nodes[index];
}

/* Gives node `n` a GRAPH attribute holding `sub`. */
static void attach(eml_graph *g, eml_node *n, eml_graph *sub)
{
    eml_env *env = g->env;
    eml__free(env, n->attrs);
    n->attrs = eml__calloc(env, 1, sizeof(eml_attr));
    REQUIRE(n->attrs);
    n->attrs[0].name = eml__strdup(env, "body");
    n->attrs[0].type = EML_ATTR_GRAPH;
    n->attrs[0].g = sub;
    n->n_attrs = 1;
}

static void expect(const eml_graph *g, eml_status want, const char *text)
{
    eml_diag d;
    eml_diag_init(&d);
    eml_status st = eml__graph_verify(g, NULL, &d);
    if (st != want || (text && !strstr(d.message, text))) {
        fprintf(stderr, "expected %s '%s', got %s '%s'\n", eml_status_name(want), text ? text : "",
                eml_status_name(st), d.message);
        eml_test_failures++;
    }
}

EML_TEST(order_of_unsorted_nodes)
{
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    eml_graph *g = new_graph(env, NULL);
    input(g, "x");
    initializer(g, "w");
    output(g, "y");
    node(g, "last", "b,w", "y");  /* 0 */
    node(g, "first", "x", "a");   /* 1 */
    node(g, "middle", "a,", "b"); /* 2: an omitted optional input */
    node(g, "side", "x", "s");    /* 3: unused output */
    int32_t order[4];
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE(eml__graph_verify(g, order, &d) == EML_OK);
    CHECK(order[0] == 1 && order[1] == 2 && order[2] == 0 && order[3] == 3);
    eml_graph_destroy(g);

    /* already sorted: the file order is kept */
    g = new_graph(env, NULL);
    input(g, "x");
    output(g, "d");
    node(g, "a", "x", "a");
    node(g, "b", "a", "b");
    node(g, "c", "a", "c");
    node(g, "d", "b,c", "d");
    REQUIRE(eml__graph_verify(g, order, &d) == EML_OK);
    for (int i = 0; i < 4; i++)
        CHECK(order[i] == i);
    eml_graph_destroy(g);

    /* an empty graph whose output is its input */
    g = new_graph(env, NULL);
    input(g, "x");
    output(g, "x");
    expect(g, EML_OK, NULL);
    eml_graph_destroy(g);
    eml_env_destroy(env);
    CHECK(c.live_count == 0);
}

EML_TEST(definitions)
{
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    eml_graph *g = new_graph(env, NULL);
    input(g, "x");
    output(g, "y");
    node(g, "a", "x,nowhere", "t");
    node(g, "b", "t,missing_w", "y");
    expect(g, EML_EGRAPH,
           "2 node inputs are defined by no graph input, initializer or node: "
           "'nowhere' (input 1 of node 'a'), 'missing_w' (input 1 of node 'b')");
    eml_graph_destroy(g);

    g = new_graph(env, NULL);
    input(g, "x");
    output(g, "y");
    node(g, "a", "x", "y");
    node(g, "b", "x", "y");
    expect(g, EML_EGRAPH, "value 'y' is produced twice, by node 'a' and node 'b'");
    eml_graph_destroy(g);

    g = new_graph(env, NULL);
    input(g, "x");
    initializer(g, "w");
    output(g, "w");
    node(g, "a", "x", "w");
    expect(g, EML_EGRAPH, "value 'w' is produced by node 'a' but is also an initializer");
    eml_graph_destroy(g);

    g = new_graph(env, NULL);
    input(g, "x");
    output(g, "x");
    node(g, "a", "x", "x");
    expect(g, EML_EGRAPH, "but is also a graph input");
    eml_graph_destroy(g);

    g = new_graph(env, NULL);
    input(g, "x");
    output(g, "y");
    output(g, "z");
    node(g, "a", "x", "y");
    expect(g, EML_EGRAPH, "graph output 'z' is defined by no node, input or initializer");
    eml_graph_destroy(g);

    /* OUTER in a top-level graph refers to nothing */
    g = new_graph(env, NULL);
    output(g, "o");
    g->values[val(g, "o")].flags |= EML_VALUE_OUTER;
    expect(g, EML_EGRAPH, "uses 'o', which no enclosing graph defines");
    eml_graph_destroy(g);
    eml_env_destroy(env);
    CHECK(c.live_count == 0);
}

EML_TEST(cycles)
{
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    eml_graph *g = new_graph(env, NULL);
    input(g, "x");
    output(g, "y");
    node(g, "self", "x,y", "y");
    expect(g, EML_EGRAPH, "cycle through nodes 'self' -> 'self'");
    eml_graph_destroy(g);

    g = new_graph(env, NULL);
    input(g, "x");
    output(g, "out");
    node(g, "before", "x", "b");
    node(g, "p", "b,r", "p");
    node(g, "q", "p", "q");
    node(g, "r", "q", "r");
    node(g, "after", "r", "out");
    eml_diag d;
    eml_diag_init(&d);
    CHECK_STATUS(eml__graph_verify(g, NULL, &d), EML_EGRAPH);
    CHECK(strstr(d.message, "cycle through nodes 'p' -> 'q' -> 'r' -> 'p'") != NULL);
    CHECK(strcmp(d.node, "p") == 0);
    eml_graph_destroy(g);
    eml_env_destroy(env);
    CHECK(c.live_count == 0);
}

/* A node whose subgraph reads an outer value depends on that value's producer. */
EML_TEST(subgraphs)
{
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    eml_graph *g = new_graph(env, NULL);
    input(g, "x");
    output(g, "y");
    eml_node *loop = node(g, "loop", "x", "y"); /* 0: its body reads 'h', made by node 1 */
    node(g, "make_h", "x", "h");                /* 1 */
    g->values[val(g, "h")].producer = 1;
    eml_graph *body = new_graph(env, g);
    attach(g, loop, body);
    output(body, "bo");
    eml_graph *inner = new_graph(env, body); /* a second level reads 'h' too */
    eml_node *bn = node(body, "inner_holder", "", "bo");
    attach(body, bn, inner);
    output(inner, "io");
    node(inner, "use_h", "h", "io");
    inner->values[val(inner, "h")].flags |= EML_VALUE_OUTER;
    int32_t order[2];
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE(eml__graph_verify(g, order, &d) == EML_OK);
    CHECK(order[0] == 1 && order[1] == 0);
    /* checked alone, a subgraph resolves outer values through its parents */
    CHECK(eml__graph_verify(inner, NULL, &d) == EML_OK);

    /* the body reads the holder's own output: a cycle */
    int32_t y_in_inner = val(inner, "y");
    inner->values[y_in_inner].flags |= EML_VALUE_OUTER;
    inner->nodes[0].inputs[0] = y_in_inner;
    expect(g, EML_EGRAPH, "cycle through nodes 'loop'");

    /* an outer name nobody defines */
    inner->values[y_in_inner].flags = 0;
    inner->nodes[0].inputs[0] = val(inner, "nobody");
    inner->values[inner->nodes[0].inputs[0]].flags |= EML_VALUE_OUTER;
    expect(g, EML_EGRAPH, "uses 'nobody', which no enclosing graph defines");

    /* an undefined input inside a subgraph */
    inner->values[inner->nodes[0].inputs[0]].flags = 0;
    expect(g, EML_EGRAPH, "'nobody' (input 0 of node 'use_h')");
    eml_graph_destroy(g);
    eml_env_destroy(env);
    CHECK(c.live_count == 0);
}

EML_TEST(allocation_failures)
{
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    eml_graph *g = new_graph(env, NULL);
    input(g, "x");
    output(g, "y");
    eml_node *n = node(g, "holder", "x", "t");
    eml_graph *sub = new_graph(env, g);
    attach(g, n, sub);
    output(sub, "so");
    node(sub, "neg", "x", "so");
    sub->values[val(sub, "x")].flags |= EML_VALUE_OUTER;
    node(g, "b", "t", "y");
    int ok = 0;
    for (uint64_t k = 1; k < 100 && !ok; k++) {
        uint64_t live = c.live_count;
        c.fail_at = c.alloc_count + k;
        eml_status st = eml__graph_verify(g, NULL, NULL);
        c.fail_at = 0;
        if (st == EML_OK)
            ok = 1;
        else
            CHECK_STATUS(st, EML_ENOMEM);
        CHECK(c.live_count == live);
    }
    CHECK(ok);
    eml_graph_destroy(g);
    eml_env_destroy(env);
    CHECK(c.live_count == 0);
}

/* A long chain written backwards: linear work, the order reversed. */
EML_TEST(long_chain)
{
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    eml_graph *g = new_graph(env, NULL);
    enum {
        N = 50000
    };
    input(g, "v0");
    char out[16];
    snprintf(out, sizeof(out), "v%d", N);
    output(g, out);
    for (int i = N; i >= 1; i--) {
        char a[16], b[16], name[16];
        snprintf(a, sizeof(a), "v%d", i - 1);
        snprintf(b, sizeof(b), "v%d", i);
        snprintf(name, sizeof(name), "n%d", i);
        node(g, name, a, b);
    }
    int32_t *order = malloc(sizeof(int32_t) * N);
    REQUIRE(eml__graph_verify(g, order, NULL) == EML_OK);
    for (int i = 0; i < N; i++)
        CHECK(order[i] == N - 1 - i);
    free(order);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}
