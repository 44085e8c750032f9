/* Dynamic batching: a queue per model, worker threads that merge compatible requests along the
 * batch dimension (dim 0), run them on their own session and hand each caller its rows. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "serve/batcher.h"

typedef struct request {
    const eml_tensor *inputs;
    int64_t rows; /* dim 0 of every input when the model batches, else 1 */
    uint64_t deadline_ns, enqueued_ns;
    uint64_t run_start_ns, run_end_ns; /* the session run that computed its rows */
    eml_status status;
    eml_diag diag;
    eml_tensor *outputs;
    int done;
    struct request *next;
} request;

typedef struct worker {
    struct eml__batcher *b;
    eml_session *session;
    request **batch;          /* max_batch_size slots */
    void **buf;               /* per input: merged batch data */
    size_t *buf_cap;
    pthread_t thread;
    int started;
} worker;

struct eml__batcher {
    const eml_graph *graph;
    const eml_plan *plan;
    eml__batch_options o;
    int batchable;
    size_t n_in, n_out;
    eml__metrics *metrics;
    char label[128];
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    request *head;
    uint32_t queued;
    int stop;
    worker *workers;
};

uint32_t eml__batcher_queued(eml__batcher *b)
{
    pthread_mutex_lock(&b->lock);
    uint32_t n = b->queued;
    pthread_mutex_unlock(&b->lock);
    return n;
}

uint64_t eml__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void eml__batch_options_init(eml__batch_options *o)
{
    memset(o, 0, sizeof(*o));
    o->max_batch_size = 8;
    o->max_queue_delay_us = 2000;
    o->max_queue = 64;
    o->n_workers = 1;
}

void eml__batcher_options(const eml__batcher *b, eml__batch_options *out)
{
    *out = b->o;
}

/* A model batches when every input and output has a dynamic leading dimension. */
static int model_batches(const eml_graph *g)
{
    eml_value_info vi;
    for (size_t i = 0; i < eml_graph_input_count(g); i++)
        if (eml_graph_input(g, i, &vi) != EML_OK || vi.rank < 1 || vi.dims[0] >= 0)
            return 0;
    for (size_t i = 0; i < eml_graph_output_count(g); i++)
        if (eml_graph_output(g, i, &vi) != EML_OK || vi.rank < 1 || vi.dims[0] >= 0)
            return 0;
    return eml_graph_input_count(g) > 0;
}

/* Same dtypes and the same dims after the first: rows of one can follow rows of the other. */
static int compatible(const eml__batcher *b, const request *x, const request *y)
{
    for (size_t i = 0; i < b->n_in; i++) {
        const eml_tensor *p = &x->inputs[i], *q = &y->inputs[i];
        if (p->dtype != q->dtype || p->rank != q->rank)
            return 0;
        for (int d = 1; d < p->rank; d++)
            if (p->dims[d] != q->dims[d])
                return 0;
    }
    return 1;
}

static void finish(eml__batcher *b, request *r, eml_status st)
{
    r->status = st;
    r->done = 1;
    (void)b;
}

/* Copies rows [row0, row0 + rows) of each session output into r's own outputs. */
static eml_status copy_outputs(eml__batcher *b, eml_session *s, request *r, int64_t row0,
                               int64_t total_rows)
{
    r->outputs = calloc(b->n_out ? b->n_out : 1, sizeof(eml_tensor));
    if (!r->outputs)
        return eml__diag(&r->diag, EML_ENOMEM, "out of memory copying outputs");
    for (size_t k = 0; k < b->n_out; k++) {
        eml_tensor t;
        eml_status st = eml_session_output(s, k, &t);
        if (st != EML_OK)
            return eml__diag(&r->diag, st, "output %zu missing", k);
        size_t bytes = eml_tensor_bytes(&t);
        size_t offset = 0;
        if (total_rows > 0) {
            if (t.rank < 1 || t.dims[0] != total_rows)
                return eml__diag(&r->diag, EML_EINTERNAL,
                                 "output %zu has no batch dimension of %lld rows", k,
                                 (long long)total_rows);
            size_t row_bytes = bytes / (size_t)total_rows;
            offset = row_bytes * (size_t)row0;
            bytes = row_bytes * (size_t)r->rows;
            t.dims[0] = r->rows;
        }
        eml_tensor *o = &r->outputs[k];
        *o = t;
        o->data = malloc(bytes ? bytes : 1);
        if (!o->data)
            return eml__diag(&r->diag, EML_ENOMEM, "out of memory copying outputs");
        if (bytes)
            memcpy(o->data, (const char *)t.data + offset, bytes);
    }
    return EML_OK;
}

static void run_one(eml__batcher *b, worker *w, request *r)
{
    r->run_start_ns = eml__now_ns();
    eml_status st = eml_session_run(w->session, r->inputs, b->n_in, &r->diag);
    r->run_end_ns = eml__now_ns();
    if (st == EML_OK)
        st = copy_outputs(b, w->session, r, 0, 0);
    r->status = st;
}

/* Merges the batch's inputs into the worker's buffers and runs once; on failure each request runs
 * alone, so that one bad request does not fail its neighbours. */
static void run_batch(eml__batcher *b, worker *w, request **batch, size_t n)
{
    eml__metrics_add(b->metrics, EML_METRIC_BATCHES, b->label, 1);
    eml__metrics_observe(b->metrics, EML_METRIC_BATCH_SIZE, b->label, (double)n);
    if (n == 1) {
        run_one(b, w, batch[0]);
        return;
    }
    int64_t total = 0;
    for (size_t j = 0; j < n; j++)
        total += batch[j]->rows;
    eml_tensor merged[16];
    eml_tensor *in = b->n_in <= 16 ? merged : calloc(b->n_in, sizeof(eml_tensor));
    eml_status st = in ? EML_OK : EML_ENOMEM;
    for (size_t i = 0; i < b->n_in && st == EML_OK; i++) {
        in[i] = batch[0]->inputs[i];
        in[i].dims[0] = total;
        size_t bytes = eml_tensor_bytes(&in[i]);
        if (bytes > w->buf_cap[i]) {
            free(w->buf[i]);
            w->buf[i] = malloc(bytes);
            w->buf_cap[i] = w->buf[i] ? bytes : 0;
            if (!w->buf[i]) {
                st = EML_ENOMEM;
                break;
            }
        }
        size_t at = 0;
        for (size_t j = 0; j < n; j++) {
            size_t part = eml_tensor_bytes(&batch[j]->inputs[i]);
            memcpy((char *)w->buf[i] + at, batch[j]->inputs[i].data, part);
            at += part;
        }
        in[i].data = w->buf[i];
    }
    uint64_t run_start = eml__now_ns();
    if (st == EML_OK)
        st = eml_session_run(w->session, in, b->n_in, &batch[0]->diag);
    uint64_t run_end = eml__now_ns();
    for (size_t j = 0; j < n; j++) {
        batch[j]->run_start_ns = run_start;
        batch[j]->run_end_ns = run_end;
    }
    int64_t row = 0;
    for (size_t j = 0; j < n && st == EML_OK; j++) {
        st = copy_outputs(b, w->session, batch[j], row, total);
        row += batch[j]->rows;
    }
    if (in != merged)
        free(in);
    if (st == EML_OK) {
        for (size_t j = 0; j < n; j++)
            batch[j]->status = EML_OK;
        return;
    }
    for (size_t j = 0; j < n; j++) {
        eml__outputs_free(batch[j]->outputs, batch[j]->outputs ? b->n_out : 0);
        batch[j]->outputs = NULL;
        eml_diag_init(&batch[j]->diag);
        run_one(b, w, batch[j]);
    }
}

/* Rows of the queued requests that could join the head's batch. Lock held. */
static int64_t ready_rows(const eml__batcher *b)
{
    int64_t rows = 0;
    for (const request *r = b->head; r; r = r->next)
        if (compatible(b, b->head, r))
            rows += r->rows;
    return rows;
}

static uint32_t largest_preferred_upto(const eml__batcher *b, int64_t rows)
{
    uint32_t best = 0;
    for (uint32_t i = 0; i < b->o.n_preferred; i++)
        if (b->o.preferred[i] <= rows && b->o.preferred[i] > best)
            best = b->o.preferred[i];
    return best;
}

/* Waits until the head request has company enough or has waited max_queue_delay_us, then
 * dequeues a batch into w->batch. Lock held; returns the count (0 when stopping). */
static size_t take_batch(eml__batcher *b, worker *w)
{
    for (;;) {
        while (!b->stop && !b->head)
            pthread_cond_wait(&b->work, &b->lock);
        if (b->stop)
            return 0;
        /* Requests whose deadline passed leave now, unrun. */
        uint64_t now = eml__now_ns();
        for (request **pp = &b->head; *pp;) {
            request *r = *pp;
            if (r->deadline_ns && now >= r->deadline_ns) {
                *pp = r->next;
                b->queued--;
                eml__diag(&r->diag, EML__ETIMEOUT, "deadline passed after %.3f ms in the queue",
                          (double)(now - r->enqueued_ns) / 1e6);
                eml__metrics_add(b->metrics, EML_METRIC_DEADLINE_EXPIRED, b->label, 1);
                finish(b, r, EML__ETIMEOUT);
                pthread_cond_broadcast(&b->done);
            } else {
                pp = &r->next;
            }
        }
        if (!b->head)
            continue;
        if (!b->batchable || b->o.max_batch_size <= 1)
            break;
        int64_t rows = ready_rows(b);
        uint32_t top = 0;
        for (uint32_t i = 0; i < b->o.n_preferred; i++)
            top = EML_MAX(top, b->o.preferred[i]);
        uint64_t due = b->head->enqueued_ns + b->o.max_queue_delay_us * 1000ull;
        if (rows >= b->o.max_batch_size || (top && rows >= top) || now >= due)
            break;
        for (request *r = b->head; r; r = r->next)
            if (r->deadline_ns && r->deadline_ns < due)
                due = r->deadline_ns;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t wait = due > now ? due - now : 0;
        ts.tv_sec += (time_t)(wait / 1000000000ull);
        ts.tv_nsec += (long)(wait % 1000000000ull);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&b->work, &b->lock, &ts);
    }
    request *first = b->head;
    int64_t limit = b->batchable ? EML_MAX(b->o.max_batch_size, 1) : 1;
    if (b->batchable && b->o.n_preferred) {
        uint32_t p = largest_preferred_upto(b, EML_MIN(ready_rows(b), limit));
        if (p)
            limit = p;
    }
    size_t n = 0;
    int64_t rows = 0;
    for (request **pp = &b->head; *pp;) {
        request *r = *pp;
        if (n > 0 && (!b->batchable || rows + r->rows > limit || !compatible(b, first, r))) {
            if (!b->batchable || rows >= limit)
                break;
            pp = &r->next;
            continue;
        }
        *pp = r->next;
        b->queued--;
        w->batch[n++] = r;
        rows += r->rows;
        if (rows >= limit)
            break;
    }
    return n;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    eml__batcher *b = w->b;
    pthread_mutex_lock(&b->lock);
    for (;;) {
        size_t n = take_batch(b, w);
        if (n == 0)
            break;
        pthread_mutex_unlock(&b->lock);
        run_batch(b, w, w->batch, n);
        pthread_mutex_lock(&b->lock);
        for (size_t j = 0; j < n; j++)
            w->batch[j]->done = 1;
        pthread_cond_broadcast(&b->done);
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

eml_status eml__batcher_create(const eml_graph *graph, const eml_plan *plan,
                               const eml__batch_options *opts, eml__metrics *metrics,
                               const char *label, eml__batcher **out, eml_diag *diag)
{
    *out = NULL;
    eml__batcher *b = calloc(1, sizeof(*b));
    if (!b)
        return eml__diag(diag, EML_ENOMEM, "out of memory creating a batcher");
    b->graph = graph;
    b->plan = plan;
    if (opts)
        b->o = *opts;
    else
        eml__batch_options_init(&b->o);
    if (b->o.n_workers == 0)
        b->o.n_workers = 1;
    if (b->o.n_preferred > EML__MAX_PREFERRED)
        b->o.n_preferred = EML__MAX_PREFERRED;
    b->batchable = model_batches(graph);
    if (!b->batchable || b->o.max_batch_size == 0)
        b->o.max_batch_size = 1;
    b->n_in = eml_graph_input_count(graph);
    b->n_out = eml_graph_output_count(graph);
    b->metrics = metrics;
    snprintf(b->label, sizeof(b->label), "%s", label ? label : "");
    pthread_mutex_init(&b->lock, NULL);
    /* take_batch waits on `work` until a CLOCK_MONOTONIC deadline: the condition must use that
     * clock (the default, CLOCK_REALTIME, reads the deadline as long past, and the worker then
     * spins through the batch delay instead of sleeping). */
    pthread_condattr_t monotonic;
    pthread_condattr_init(&monotonic);
    pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
    pthread_cond_init(&b->work, &monotonic);
    pthread_condattr_destroy(&monotonic);
    pthread_cond_init(&b->done, NULL);
    eml_status st = EML_OK;
    b->workers = calloc(b->o.n_workers, sizeof(worker));
    if (!b->workers) {
        st = eml__diag(diag, EML_ENOMEM, "out of memory creating workers");
        goto fail;
    }
    for (uint32_t i = 0; i < b->o.n_workers; i++) {
        worker *w = &b->workers[i];
        w->b = b;
        w->batch = calloc(b->o.max_batch_size, sizeof(request *));
        w->buf = calloc(b->n_in + 1, sizeof(void *));
        w->buf_cap = calloc(b->n_in + 1, sizeof(size_t));
        if (!w->batch || !w->buf || !w->buf_cap) {
            st = eml__diag(diag, EML_ENOMEM, "out of memory creating workers");
            goto fail;
        }
        EML_TRY(eml_session_create(plan, NULL, &w->session, diag));
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            st = eml__diag(diag, EML_ENOMEM, "cannot start a worker thread");
            goto fail;
        }
        w->started = 1;
    }
    *out = b;
    return EML_OK;
fail:
    eml__batcher_destroy(b);
    return st;
}

void eml__batcher_destroy(eml__batcher *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->lock);
    b->stop = 1;
    pthread_cond_broadcast(&b->work);
    pthread_mutex_unlock(&b->lock);
    for (uint32_t i = 0; b->workers && i < b->o.n_workers; i++) {
        worker *w = &b->workers[i];
        if (w->started)
            pthread_join(w->thread, NULL);
        eml_session_destroy(w->session);
        for (size_t k = 0; w->buf && k < b->n_in; k++)
            free(w->buf[k]);
        free(w->buf);
        free(w->buf_cap);
        free(w->batch);
    }
    pthread_mutex_lock(&b->lock);
    for (request *r = b->head; r; r = r->next) {
        eml__diag(&r->diag, EML__EUNAVAILABLE, "the model was unloaded");
        finish(b, r, EML__EUNAVAILABLE);
    }
    b->head = NULL;
    pthread_cond_broadcast(&b->done);
    pthread_mutex_unlock(&b->lock);
    free(b->workers);
    pthread_cond_destroy(&b->work);
    pthread_cond_destroy(&b->done);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

/* Checks a request against the model's declared inputs before it joins a queue, so that a bad
 * request fails alone and a merged batch never fails for its shape. */
static eml_status check_inputs(eml__batcher *b, const eml_tensor *in, size_t n, int64_t *rows,
                               eml_diag *diag)
{
    if (n != b->n_in)
        return eml__diag(diag, EML_EINVAL, "the model takes %zu inputs, the request has %zu",
                         b->n_in, n);
    *rows = 1;
    for (size_t i = 0; i < n; i++) {
        eml_value_info vi;
        eml_graph_input(b->graph, i, &vi);
        char want[160], got[160];
        eml__shape_str(want, sizeof(want), vi.dtype, vi.dims, vi.rank < 0 ? 0 : vi.rank);
        eml__shape_str(got, sizeof(got), in[i].dtype, in[i].dims, in[i].rank);
        if (!in[i].data)
            return eml__diag(diag, EML_EINVAL, "input '%s' has no data", vi.name);
        if (in[i].dtype != vi.dtype)
            return eml__diag(diag, EML_ETYPE, "input '%s' is %s, the model takes %s", vi.name,
                             got, want);
        int bad = vi.rank >= 0 && in[i].rank != vi.rank;
        for (int d = 0; !bad && vi.rank >= 0 && d < vi.rank; d++)
            bad = (vi.dims[d] >= 0 && in[i].dims[d] != vi.dims[d]) || in[i].dims[d] < 0;
        if (bad)
            return eml__diag(diag, EML_ESHAPE, "input '%s' is %s, the model takes %s", vi.name,
                             got, want);
        if (b->batchable) {
            if (i == 0)
                *rows = in[i].dims[0];
            else if (in[i].dims[0] != *rows)
                return eml__diag(diag, EML_ESHAPE, "inputs differ in batch size (%lld, %lld)",
                                 (long long)*rows, (long long)in[i].dims[0]);
        }
    }
    if (b->batchable && *rows > (int64_t)b->o.max_batch_size && b->o.max_batch_size > 1)
        return eml__diag(diag, EML_EINVAL, "a batch of %lld exceeds max_batch_size %u",
                         (long long)*rows, b->o.max_batch_size);
    if (b->batchable && *rows < 1)
        return eml__diag(diag, EML_ESHAPE, "an empty batch");
    return EML_OK;
}

eml_status eml__batcher_infer(eml__batcher *b, const eml_tensor *inputs, size_t n_inputs,
                              uint64_t deadline_ns, eml_tensor **outputs, size_t *n_outputs,
                              eml_diag *diag)
{
    return eml__batcher_infer_timed(b, inputs, n_inputs, deadline_ns, outputs, n_outputs, NULL,
                                    diag);
}

eml_status eml__batcher_infer_timed(eml__batcher *b, const eml_tensor *inputs, size_t n_inputs,
                                    uint64_t deadline_ns, eml_tensor **outputs, size_t *n_outputs,
                                    eml__infer_times *times, eml_diag *diag)
{
    if (times)
        memset(times, 0, sizeof(*times));
    *outputs = NULL;
    *n_outputs = 0;
    eml__metrics_add(b->metrics, EML_METRIC_INFER_REQUESTS, b->label, 1);
    request r;
    memset(&r, 0, sizeof(r));
    eml_diag_init(&r.diag);
    r.inputs = inputs;
    r.deadline_ns = deadline_ns;
    r.enqueued_ns = eml__now_ns();
    eml_status st = check_inputs(b, inputs, n_inputs, &r.rows, diag);
    if (st != EML_OK) {
        eml__metrics_add(b->metrics, EML_METRIC_INFER_FAILURES, b->label, 1);
        return st;
    }
    pthread_mutex_lock(&b->lock);
    if (b->stop || b->queued >= b->o.max_queue) {
        int stopping = b->stop;
        pthread_mutex_unlock(&b->lock);
        eml__metrics_add(b->metrics, stopping ? EML_METRIC_INFER_FAILURES
                                              : EML_METRIC_QUEUE_REJECTED, b->label, 1);
        if (stopping)
            return eml__diag(diag, EML__EUNAVAILABLE, "the model is being unloaded");
        return eml__diag(diag, EML__EBUSY, "the queue of model '%s' is full (%u requests)",
                         b->label, b->o.max_queue);
    }
    request **pp = &b->head;
    while (*pp)
        pp = &(*pp)->next;
    *pp = &r;
    b->queued++;
    pthread_cond_broadcast(&b->work);
    while (!r.done)
        pthread_cond_wait(&b->done, &b->lock);
    pthread_mutex_unlock(&b->lock);
    eml__metrics_observe(b->metrics, EML_METRIC_REQUEST_SECONDS, b->label,
                         (double)(eml__now_ns() - r.enqueued_ns) / 1e9);
    if (r.status != EML_OK) {
        eml__outputs_free(r.outputs, r.outputs ? b->n_out : 0);
        eml__metrics_add(b->metrics, EML_METRIC_INFER_FAILURES, b->label, 1);
        if (diag)
            *diag = r.diag;
        if (diag && diag->status == EML_OK)
            diag->status = r.status;
        return r.status;
    }
    *outputs = r.outputs;
    *n_outputs = b->n_out;
    if (times && r.run_end_ns >= r.run_start_ns && r.run_start_ns >= r.enqueued_ns) {
        times->queue_ns = r.run_start_ns - r.enqueued_ns;
        times->run_ns = r.run_end_ns - r.run_start_ns;
    }
    return EML_OK;
}

void eml__outputs_free(eml_tensor *outputs, size_t n_outputs)
{
    if (!outputs)
        return;
    for (size_t i = 0; i < n_outputs; i++)
        free(outputs[i].data);
    free(outputs);
}
