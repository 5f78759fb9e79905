/* The replay's three common events in C: enqueued, executing, and a finish
 * (complete or error).
 *
 * Optional, like record/_hotpath.c: Replay.apply_all and the detector use
 * it when the extension was built, and Replay.apply otherwise.  It is not a
 * second state machine: it takes an event only in the plain case -- a new
 * task enqueued without pipeline or priority, a queued task starting on a
 * worker, a running task finishing alone on its
 * worker that nobody waits for -- and does there exactly what replay.py's
 * handlers do, history included (tests/test_fastreplay.py
 * replays the same events both ways and compares every field).  Anything
 * else, it stops before touching anything and says where: Python applies
 * that event, then calls again.  What C saves is the interpreter: about 2 us
 * of bytecode per event in a million-task diagnose.
 *
 * TaskRecord and Pool are slotted dataclasses, Event a msgspec struct: their
 * fields are read and written at the offsets of their member descriptors,
 * found once by name; a record is made by copying the fields of a
 * prototype (TaskRecord's defaults stay defined once, in replay.py).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#define SLOT(o, off) (*(PyObject **)((char *)(o) + (off)))

enum { R_ID, R_NAME, R_STATE, R_OUTCOME, R_WORKER, R_PARENT, R_VIA, R_THEN, R_ENQUEUED,
       R_STARTED, R_FINISHED, R_ATTEMPTS, R_ARGS, R_STORED, R_ERROR, R_WAIT, R_QUEUE,
       R_PRIORITY, R_ORDER, R_AFTER, R_CONSUMED, R_CONSUMED_BY, R_N };
static const char *record_fields[R_N] = {
    "id", "name", "state", "outcome", "worker", "parent", "via", "then", "enqueued",
    "started", "finished", "attempts", "args", "stored", "error", "wait", "queue",
    "priority", "order", "after", "consumed", "consumed_by"};
enum { P_QUEUE, P_MEMBERS, P_DECLARED, P_BACKLOG, P_BUSY, P_BLOCKED, P_N };
static const char *pool_fields[P_N] = {"queue", "members", "declared", "backlog", "busy",
                                       "blocked"};
enum { H_CHANGE_T, H_CHANGE_TASK, H_CHANGE_STATE, H_SPANS, H_DEPTH, H_SPAWNS, H_POOLS, H_N };
static const char *history_fields[H_N] = {"change_t", "change_task", "change_state", "spans",
                                          "depth", "spawns", "pools"};
enum { S_END, S_OUTCOME, S_N };
static const char *span_fields[S_N] = {"end", "outcome"};
enum { E_T, E_KIND, E_TASK, E_NAME, E_WORKER, E_DATA, E_QUEUE, E_N };
static const char *event_fields[E_N] = {"t", "kind", "task", "name", "worker", "data", "queue"};

static PyObject *s_queued, *s_running, *s_blocked, *s_finished;
static PyObject *s_enqueued, *s_executing, *s_complete, *s_error;
static PyObject *s_then, *s_priority, *s_parent, *s_via, *s_args, *s_stored;
static PyObject *s_t, *s_order, *s_tasks, *s_pools, *s_stacks, *s_waiting, *s_history, *s_open;
static PyObject *s_last, *s_touched, *s_finished_complete, *s_finished_error;

typedef struct {
    PyObject_HEAD
    PyTypeObject *rtype, *ptype, *etype, *htype, *stype;
    PyObject *proto;
    Py_ssize_t r[R_N], p[P_N], e[E_N], h[H_N], s[S_N];
} Runner;

/* The offset of each named field of ``type``: each must be an object slot. */
static int
offsets(PyTypeObject *type, const char **names, int n, Py_ssize_t *out)
{
    for (int i = 0; i < n; i++) {
        PyObject *d = PyObject_GetAttrString((PyObject *)type, names[i]);
        if (d == NULL)
            return -1;
        int ok = Py_IS_TYPE(d, &PyMemberDescr_Type) &&
                 ((PyMemberDescrObject *)d)->d_member->type == T_OBJECT_EX;
        if (ok)
            out[i] = ((PyMemberDescrObject *)d)->d_member->offset;
        Py_DECREF(d);
        if (!ok) {
            PyErr_Format(PyExc_TypeError, "%s.%s is not an object slot", type->tp_name,
                         names[i]);
            return -1;
        }
    }
    return 0;
}

/* a == b for a str and an interned constant, without a call in the common case. */
static inline int
same(PyObject *a, PyObject *b)
{
    if (a == b)
        return 1;
    if (!PyUnicode_CheckExact(a))
        return 0;
    Py_ssize_t n = PyUnicode_GET_LENGTH(a);
    return n == PyUnicode_GET_LENGTH(b) && PyUnicode_KIND(a) == PyUnicode_KIND(b) &&
           memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b), n * PyUnicode_KIND(a)) == 0;
}

static inline void
put(PyObject *o, Py_ssize_t off, PyObject *v)
{
    PyObject *old = SLOT(o, off);
    Py_INCREF(v);
    SLOT(o, off) = v;
    Py_XDECREF(old);
}

/* o.field += by, for an int field. */
static int
add(PyObject *o, Py_ssize_t off, long by)
{
    PyObject *v = SLOT(o, off);
    if (v == NULL || !PyLong_CheckExact(v)) {
        PyErr_SetString(PyExc_TypeError, "a pool or task counter is not an int");
        return -1;
    }
    long n = PyLong_AsLong(v);
    if (n == -1 && PyErr_Occurred())
        return -1;
    PyObject *w = PyLong_FromLong(n + by);
    if (w == NULL)
        return -1;
    SLOT(o, off) = w;
    Py_DECREF(v);
    return 0;
}

/* tasks[stack[-1]].state is "blocked": 1, 0, or -1 (not known: let Python do it). */
static int
top_blocked(Runner *R, PyObject *tasks, PyObject *stack)
{
    PyObject *top = PyDict_GetItemWithError(tasks, PyList_GET_ITEM(stack, PyList_GET_SIZE(stack) - 1));
    if (top == NULL || !Py_IS_TYPE(top, R->rtype) || SLOT(top, R->r[R_STATE]) == NULL)
        return -1;
    return same(SLOT(top, R->r[R_STATE]), s_blocked);
}

/* The pool of ``queue`` when it is a Pool with dict members and backlog, else NULL. */
static PyObject *
pool_of(Runner *R, PyObject *pools, PyObject *queue)
{
    PyObject *p = PyDict_GetItemWithError(pools, queue);
    if (p == NULL || !Py_IS_TYPE(p, R->ptype))
        return NULL;
    PyObject *m = SLOT(p, R->p[P_MEMBERS]), *b = SLOT(p, R->p[P_BACKLOG]);
    if (m == NULL || b == NULL || !PyDict_CheckExact(m) || !PyDict_CheckExact(b) ||
        SLOT(p, R->p[P_BUSY]) == NULL || SLOT(p, R->p[P_BLOCKED]) == NULL ||
        SLOT(p, R->p[P_QUEUE]) == NULL || SLOT(p, R->p[P_DECLARED]) == NULL)
        return NULL;
    return p;
}

/* del d[key] if it is there: 1 deleted, 0 was not there, -1 error. */
static int
discard(PyObject *d, PyObject *key)
{
    int has = PyDict_Contains(d, key);
    return has <= 0 ? has : PyDict_DelItem(d, key) < 0 ? -1 : 1;
}

/* Replay.task's filling in of what a later event knows. */
static void
fill(Runner *R, PyObject *rec, PyObject *name, PyObject *queue)
{
    if (name != Py_None && SLOT(rec, R->r[R_NAME]) == Py_None)
        put(rec, R->r[R_NAME], name);
    if (queue != Py_None && SLOT(rec, R->r[R_QUEUE]) == Py_None)
        put(rec, R->r[R_QUEUE], queue);
}

static int
record_ok(Runner *R, PyObject *rec)
{
    if (!Py_IS_TYPE(rec, R->rtype))
        return 0;
    for (int i = 0; i < R_N; i++)
        if (SLOT(rec, R->r[i]) == NULL)
            return 0;
    return 1;
}

typedef struct {
    PyObject *tasks, *pools, *stacks, *waiting;
    long long order;
    PyObject *t;            /* Replay.t: the latest time, this event's included */
    /* With a history (else NULL): the History, its lists and dicts, and
     * Replay._open and _last (task id -> its running / latest span). */
    PyObject *h, *open, *last;
    PyObject *change_t, *change_task, *change_state, *spans, *depth, *spawns, *hpools;
} Tables;

/* Replay._set's record of a change. */
static int
changed(Tables *T, PyObject *tid, PyObject *state)
{
    if (T->h == NULL)
        return 0;
    if (PyList_Append(T->change_t, T->t) < 0 || PyList_Append(T->change_task, tid) < 0)
        return -1;
    return PyList_Append(T->change_state, state);
}

/* Append (t, *values) to the list ``rows[key]``, or replace its last row
 * when that has time t (Replay._depth and _record_pools); with ``same``,
 * nothing when the last row already holds these values. */
static int
row(Tables *T, PyObject *rows, PyObject *key, PyObject *values, int same)
{
    PyObject *pts = PyDict_GetItemWithError(rows, key);
    if (pts == NULL) {
        if (PyErr_Occurred() || (pts = PyList_New(0)) == NULL)
            return -1;
        int rc = PyDict_SetItem(rows, key, pts);
        Py_DECREF(pts);
        if (rc < 0)
            return -1;
    }
    if (!PyList_CheckExact(pts)) {
        PyErr_SetString(PyExc_TypeError, "a history row list is not a list");
        return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(pts), k = PyTuple_GET_SIZE(values);
    int at_t = 0;
    if (n) {
        PyObject *last = PyList_GET_ITEM(pts, n - 1);
        if (!PyTuple_CheckExact(last) || PyTuple_GET_SIZE(last) != k + 1) {
            PyErr_SetString(PyExc_TypeError, "a history row is not a tuple of its size");
            return -1;
        }
        if (same) {
            int eq = 1;
            for (Py_ssize_t i = 0; eq == 1 && i < k; i++)
                eq = PyObject_RichCompareBool(PyTuple_GET_ITEM(last, i + 1),
                                              PyTuple_GET_ITEM(values, i), Py_EQ);
            if (eq != 0)
                return eq < 0 ? -1 : 0;
        }
        at_t = PyObject_RichCompareBool(PyTuple_GET_ITEM(last, 0), T->t, Py_EQ);
        if (at_t < 0)
            return -1;
    }
    PyObject *r = PyTuple_New(k + 1);
    if (r == NULL)
        return -1;
    PyTuple_SET_ITEM(r, 0, Py_NewRef(T->t));
    for (Py_ssize_t i = 0; i < k; i++)
        PyTuple_SET_ITEM(r, i + 1, Py_NewRef(PyTuple_GET_ITEM(values, i)));
    if (at_t)
        return PyList_SetItem(pts, n - 1, r);      /* steals r */
    int rc = PyList_Append(pts, r);
    Py_DECREF(r);
    return rc;
}

/* Replay._depth: the queue's depth after this change. */
static int
depth(Runner *R, Tables *T, PyObject *p)
{
    if (T->h == NULL)
        return 0;
    PyObject *n = PyLong_FromSsize_t(PyDict_GET_SIZE(SLOT(p, R->p[P_BACKLOG])));
    PyObject *v = n ? PyTuple_Pack(1, n) : NULL;
    Py_XDECREF(n);
    if (v == NULL)
        return -1;
    int rc = row(T, T->depth, SLOT(p, R->p[P_QUEUE]), v, 0);
    Py_DECREF(v);
    return rc;
}

/* Replay._record_pools for the one pool an event touched. */
static int
pool_row(Runner *R, Tables *T, PyObject *p)
{
    if (T->h == NULL)
        return 0;
    PyObject *declared = SLOT(p, R->p[P_DECLARED]);
    PyObject *n = PyLong_FromSsize_t(PyDict_GET_SIZE(SLOT(p, R->p[P_MEMBERS])));
    if (n == NULL)
        return -1;
    int more = PyObject_RichCompareBool(declared, n, Py_GT);
    if (more < 0) {
        Py_DECREF(n);
        return -1;
    }
    PyObject *v = PyTuple_Pack(3, more ? declared : n, SLOT(p, R->p[P_BUSY]),
                               SLOT(p, R->p[P_BLOCKED]));
    Py_DECREF(n);
    if (v == NULL)
        return -1;
    int rc = row(T, T->hpools, SLOT(p, R->p[P_QUEUE]), v, 1);
    Py_DECREF(v);
    return rc;
}

/* Replay._enqueued for a task not seen before. */
static int
enqueued(Runner *R, Tables *T, PyObject *e)
{
    PyObject *task = SLOT(e, R->e[E_TASK]), *data = SLOT(e, R->e[E_DATA]);
    PyObject *queue = SLOT(e, R->e[E_QUEUE]);
    if (PyDict_GetItemWithError(T->tasks, task) != NULL || PyErr_Occurred())
        return PyErr_Occurred() ? -1 : 0;
    PyObject *p = pool_of(R, T->pools, queue);
    if (p == NULL)
        return PyErr_Occurred() ? -1 : 0;
    PyObject *parent = Py_None, *via = Py_None, *args = Py_None;
    if (data != Py_None && PyDict_GET_SIZE(data)) {
        PyObject *then = PyDict_GetItemWithError(data, s_then);
        if (then == NULL && PyErr_Occurred())
            return -1;
        PyObject *priority = PyDict_GetItemWithError(data, s_priority);
        if (priority == NULL && PyErr_Occurred())
            return -1;
        /* A pipeline or a priority: Python's, whole (they are rare). */
        if (then != NULL && then != Py_None)
            return 0;
        if (priority != NULL) {
            int truth = PyObject_IsTrue(priority);
            if (truth != 0)
                return truth < 0 ? -1 : 0;
        }
        PyObject *v;
        if ((v = PyDict_GetItemWithError(data, s_parent)) != NULL)
            parent = v;
        if (v == NULL && PyErr_Occurred())
            return -1;
        if ((v = PyDict_GetItemWithError(data, s_via)) != NULL)
            via = v;
        if (v == NULL && PyErr_Occurred())
            return -1;
        if ((v = PyDict_GetItemWithError(data, s_args)) != NULL)
            args = v;
        if (v == NULL && PyErr_Occurred())
            return -1;
    }
    PyObject *rec = R->rtype->tp_alloc(R->rtype, 0);
    if (rec == NULL)
        return -1;
    for (int i = 0; i < R_N; i++) {
        PyObject *v = SLOT(R->proto, R->r[i]);
        Py_XINCREF(v);
        SLOT(rec, R->r[i]) = v;
    }
    PyObject *order = PyLong_FromLongLong(T->order + 1);
    if (order == NULL) {
        Py_DECREF(rec);
        return -1;
    }
    T->order++;
    put(rec, R->r[R_ID], task);
    put(rec, R->r[R_NAME], SLOT(e, R->e[E_NAME]));
    put(rec, R->r[R_QUEUE], queue);
    put(rec, R->r[R_ENQUEUED], SLOT(e, R->e[E_T]));
    put(rec, R->r[R_PARENT], parent);
    put(rec, R->r[R_VIA], via);
    put(rec, R->r[R_ARGS], args);
    put(rec, R->r[R_STATE], s_queued);
    put(rec, R->r[R_ORDER], order);
    Py_DECREF(order);
    int rc = PyDict_SetItem(T->tasks, task, rec);
    Py_DECREF(rec);
    if (rc < 0)
        return -1;
    if (T->h != NULL && parent != Py_None) {
        PyObject *spawn = PyTuple_Pack(3, SLOT(e, R->e[E_T]), parent, task);
        if (spawn == NULL || PyList_Append(T->spawns, spawn) < 0) {
            Py_XDECREF(spawn);
            return -1;
        }
        Py_DECREF(spawn);
    }
    if (changed(T, task, s_queued) < 0)
        return -1;
    PyObject *backlog = SLOT(p, R->p[P_BACKLOG]);
    int had = PyDict_Contains(backlog, task);
    if (had < 0 || (!had && (PyDict_SetItem(backlog, task, Py_None) < 0 || depth(R, T, p) < 0)))
        return -1;
    return 1;
}

/* Replay._executing for a queued task that is not waiting. */
static int
executing(Runner *R, Tables *T, PyObject *e)
{
    PyObject *task = SLOT(e, R->e[E_TASK]), *worker = SLOT(e, R->e[E_WORKER]);
    PyObject *rec = PyDict_GetItemWithError(T->tasks, task);
    if (rec == NULL || worker == Py_None || !record_ok(R, rec) ||
        !same(SLOT(rec, R->r[R_STATE]), s_queued) || SLOT(rec, R->r[R_WAIT]) != Py_None)
        return PyErr_Occurred() ? -1 : 0;
    if (T->h != NULL) {
        int open = PyDict_Contains(T->open, SLOT(rec, R->r[R_ID]));
        if (open != 0)
            return open < 0 ? -1 : 0;
    }
    PyObject *queue = SLOT(rec, R->r[R_QUEUE]);
    if (queue == Py_None)
        queue = SLOT(e, R->e[E_QUEUE]);
    PyObject *p = pool_of(R, T->pools, queue);
    if (p == NULL)
        return PyErr_Occurred() ? -1 : 0;
    PyObject *slot = PyTuple_Pack(2, queue, worker);
    if (slot == NULL)
        return -1;
    PyObject *stack = PyDict_GetItemWithError(T->stacks, slot);
    int blocked = 0;
    if (stack != NULL && (!PyList_CheckExact(stack) ||
                          (PyList_GET_SIZE(stack) && (blocked = top_blocked(R, T->tasks, stack)) < 0))) {
        Py_DECREF(slot);
        return PyErr_Occurred() ? -1 : 0;
    }
    if (stack == NULL && PyErr_Occurred()) {
        Py_DECREF(slot);
        return -1;
    }
    /* Nothing can stop it now. */
    fill(R, rec, SLOT(e, R->e[E_NAME]), SLOT(e, R->e[E_QUEUE]));
    PyObject *tid = SLOT(rec, R->r[R_ID]);
    Py_INCREF(tid);
    Py_INCREF(rec);
    int rc = -1, gone = discard(SLOT(p, R->p[P_BACKLOG]), tid);
    if (gone < 0 || (gone && depth(R, T, p) < 0))
        goto done;
    put(rec, R->r[R_WORKER], worker);
    put(rec, R->r[R_STARTED], SLOT(e, R->e[E_T]));
    put(rec, R->r[R_FINISHED], Py_None);
    put(rec, R->r[R_OUTCOME], Py_None);
    if (add(rec, R->r[R_ATTEMPTS], 1) < 0)
        goto done;
    put(rec, R->r[R_STATE], s_running);
    if (changed(T, tid, s_running) < 0 ||
        PyDict_SetDefault(SLOT(p, R->p[P_MEMBERS]), worker, Py_None) == NULL)
        goto done;
    if (stack == NULL) {
        stack = PyList_New(0);
        if (stack == NULL)
            goto done;
        int set = PyDict_SetItem(T->stacks, slot, stack);
        Py_DECREF(stack);           /* the dict holds it */
        if (set < 0)
            goto done;
    }
    if (PyList_GET_SIZE(stack) == 0) {
        if (add(p, R->p[P_BUSY], 1) < 0)
            goto done;
    }
    else if (blocked && add(p, R->p[P_BLOCKED], -1) < 0)
        goto done;
    if (PyList_Append(stack, tid) < 0)
        goto done;
    if (T->h != NULL) {
        PyObject *depth_ = PyLong_FromSsize_t(PyList_GET_SIZE(stack) - 1);
        PyObject *blocked_ = PyList_New(0);
        PyObject *a[9] = {tid, SLOT(rec, R->r[R_NAME]), SLOT(e, R->e[E_T]), Py_None, Py_None,
                          depth_, blocked_, queue, worker};
        PyObject *sp = depth_ && blocked_ ?
            PyObject_Vectorcall((PyObject *)R->stype, a, 9, NULL) : NULL;
        Py_XDECREF(depth_);
        Py_XDECREF(blocked_);
        if (sp == NULL)
            goto done;
        int bad = PyList_Append(T->spans, sp) < 0 || PyDict_SetItem(T->open, tid, sp) < 0 ||
                  PyDict_SetItem(T->last, tid, sp) < 0;
        Py_DECREF(sp);
        if (bad || pool_row(R, T, p) < 0)
            goto done;
    }
    rc = 1;
done:
    Py_DECREF(tid);
    Py_DECREF(rec);
    Py_DECREF(slot);
    return rc;
}

/* Replay._outcome (complete, error) for a running task alone on its worker,
 * not waiting and not waited for (the detector looks at those). */
static int
finished(Runner *R, Tables *T, PyObject *e, int complete)
{
    PyObject *task = SLOT(e, R->e[E_TASK]), *data = SLOT(e, R->e[E_DATA]);
    PyObject *rec = PyDict_GetItemWithError(T->tasks, task);
    if (rec == NULL || !record_ok(R, rec) || !same(SLOT(rec, R->r[R_STATE]), s_running) ||
        SLOT(rec, R->r[R_WAIT]) != Py_None)
        return PyErr_Occurred() ? -1 : 0;
    int waited = PyDict_Contains(T->waiting, task);
    if (waited != 0)
        return waited < 0 ? -1 : 0;
    PyObject *queue = SLOT(rec, R->r[R_QUEUE]);
    if (queue == Py_None)
        queue = SLOT(e, R->e[E_QUEUE]);
    PyObject *p = PyDict_GetItemWithError(T->pools, queue);
    if (p == NULL && PyErr_Occurred())
        return -1;
    if (p != NULL && (p = pool_of(R, T->pools, queue)) == NULL)
        return PyErr_Occurred() ? -1 : 0;
    PyObject *worker = SLOT(rec, R->r[R_WORKER]), *stack = NULL;
    PyObject *tid = SLOT(rec, R->r[R_ID]);
    if (worker != Py_None) {
        PyObject *slot = PyTuple_Pack(2, queue, worker);
        if (slot == NULL)
            return -1;
        stack = PyDict_GetItemWithError(T->stacks, slot);
        Py_DECREF(slot);
        if (stack == NULL && PyErr_Occurred())
            return -1;
        if (stack != NULL && !PyList_CheckExact(stack))
            return 0;
        if (stack != NULL && PyList_GET_SIZE(stack) == 0)
            stack = NULL;
        if (stack != NULL) {
            /* Alone on its worker, or Python's (nested, or not on it at all). */
            if (PyList_GET_SIZE(stack) != 1 || p == NULL)
                return 0;
            int eq = PyObject_RichCompareBool(PyList_GET_ITEM(stack, 0), tid, Py_EQ);
            if (eq != 1)
                return eq;
        }
    }
    fill(R, rec, SLOT(e, R->e[E_NAME]), SLOT(e, R->e[E_QUEUE]));
    Py_INCREF(rec);
    Py_INCREF(tid);
    int rc = -1;
    if (p != NULL && PyDict_GET_SIZE(SLOT(p, R->p[P_BACKLOG]))) {
        int gone = discard(SLOT(p, R->p[P_BACKLOG]), tid);
        if (gone < 0 || (gone && depth(R, T, p) < 0))
            goto done;
    }
    if (stack != NULL) {
        if (add(p, R->p[P_BUSY], -1) < 0 || PyList_SetSlice(stack, 0, 1, NULL) < 0)
            goto done;
    }
    if (T->h != NULL && PyDict_GET_SIZE(T->open)) {
        PyObject *sp = PyDict_GetItemWithError(T->open, tid);
        if (sp != NULL) {
            if (!Py_IS_TYPE(sp, R->stype)) {
                PyErr_SetString(PyExc_TypeError, "Replay._open holds something not a Span");
                goto done;
            }
            put(sp, R->s[S_END], T->t);
            if (PyDict_DelItem(T->open, tid) < 0)
                goto done;
        }
        else if (PyErr_Occurred())
            goto done;
    }
    put(rec, R->r[R_OUTCOME], SLOT(e, R->e[E_KIND]));
    put(rec, R->r[R_FINISHED], SLOT(e, R->e[E_T]));
    if (complete) {
        PyObject *stored = Py_True;
        if (data != Py_None) {
            stored = PyDict_GetItemWithError(data, s_stored);
            if (stored == NULL) {
                if (PyErr_Occurred())
                    goto done;
                stored = Py_True;
            }
        }
        put(rec, R->r[R_STORED], stored);
    }
    else {
        PyObject *error = Py_None;
        if (data != Py_None) {
            error = PyDict_GetItemWithError(data, s_error);
            if (error == NULL) {
                if (PyErr_Occurred())
                    goto done;
                error = Py_None;
            }
        }
        put(rec, R->r[R_ERROR], error);
    }
    if (T->h != NULL) {
        PyObject *sp = PyDict_GetItemWithError(T->last, tid);
        if (sp == NULL && PyErr_Occurred())
            goto done;
        if (sp != NULL && Py_IS_TYPE(sp, R->stype) && SLOT(sp, R->s[S_END]) != NULL) {
            int at = PyObject_RichCompareBool(SLOT(sp, R->s[S_END]), SLOT(e, R->e[E_T]), Py_EQ);
            if (at < 0)
                goto done;
            if (at)
                put(sp, R->s[S_OUTCOME], SLOT(e, R->e[E_KIND]));
        }
    }
    put(rec, R->r[R_STATE], s_finished);
    if (changed(T, tid, complete ? s_finished_complete : s_finished_error) < 0)
        goto done;
    if (stack != NULL && pool_row(R, T, p) < 0)
        goto done;
    rc = 1;
done:
    Py_DECREF(rec);
    Py_DECREF(tid);
    return rc;
}

/* One event: 1 applied, 0 left to Python (nothing changed), -1 error. */
static int
step(Runner *R, Tables *T, PyObject *e)
{
    if (!Py_IS_TYPE(e, R->etype))
        return 0;
    for (int i = 0; i < E_N; i++)
        if (SLOT(e, R->e[i]) == NULL)
            return 0;
    PyObject *kind = SLOT(e, R->e[E_KIND]), *data = SLOT(e, R->e[E_DATA]);
    if (!PyFloat_CheckExact(SLOT(e, R->e[E_T])) || !PyUnicode_CheckExact(SLOT(e, R->e[E_TASK])) ||
        !PyUnicode_CheckExact(kind) || (data != Py_None && !PyDict_CheckExact(data)))
        return 0;
    switch (PyUnicode_GET_LENGTH(kind)) {
    case 9:
        return same(kind, s_executing) ? executing(R, T, e) : 0;
    case 8:
        if (same(kind, s_enqueued))
            return enqueued(R, T, e);
        return same(kind, s_complete) ? finished(R, T, e, 1) : 0;
    case 5:
        return same(kind, s_error) ? finished(R, T, e, 0) : 0;
    }
    return 0;
}

/* The history's lists and dicts, checked, borrowed from ``h``. */
static int
history_tables(Runner *R, Tables *T, PyObject *h)
{
    PyObject **out[H_N] = {&T->change_t, &T->change_task, &T->change_state, &T->spans,
                           &T->depth, &T->spawns, &T->hpools};
    if (!Py_IS_TYPE(h, R->htype))
        return 0;
    for (int i = 0; i < H_N; i++) {
        PyObject *v = SLOT(h, R->h[i]);
        int is_dict = i == H_DEPTH || i == H_POOLS;
        if (v == NULL || !(is_dict ? PyDict_CheckExact(v) : PyList_CheckExact(v)))
            return 0;
        *out[i] = v;
    }
    T->h = h;
    return 1;
}

/* run(replay, events, start) -> the index of the first event of
 * events[start:] it did not apply (len(events) when it applied them all). */
static PyObject *
runner_run(Runner *R, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyList_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "run(replay, events: list, start: int)");
        return NULL;
    }
    PyObject *rp = args[0], *events = args[1];
    Py_ssize_t start = PyLong_AsSsize_t(args[2]);
    if (start == -1 && PyErr_Occurred())
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(events), i = start < 0 ? 0 : start;
    if (i >= n)
        return PyLong_FromSsize_t(n);
    Tables T;
    memset(&T, 0, sizeof T);
    PyObject *history = NULL, *open = NULL, *last = NULL, *touched = NULL, *t = NULL;
    PyObject *order = NULL, *out = NULL;
    if ((history = PyObject_GetAttr(rp, s_history)) == NULL ||
        (open = PyObject_GetAttr(rp, s_open)) == NULL ||
        (last = PyObject_GetAttr(rp, s_last)) == NULL ||
        (touched = PyObject_GetAttr(rp, s_touched)) == NULL ||
        (T.tasks = PyObject_GetAttr(rp, s_tasks)) == NULL ||
        (T.pools = PyObject_GetAttr(rp, s_pools)) == NULL ||
        (T.stacks = PyObject_GetAttr(rp, s_stacks)) == NULL ||
        (T.waiting = PyObject_GetAttr(rp, s_waiting)) == NULL ||
        (t = PyObject_GetAttr(rp, s_t)) == NULL || (order = PyObject_GetAttr(rp, s_order)) == NULL)
        goto done;
    /* Tables that are not plain dicts (a what-if overlay's ChainMap), a
     * history of another shape, pools left to record: Python's. */
    if (!PyDict_CheckExact(open) || !PyDict_CheckExact(last) || !PyList_CheckExact(touched) ||
        PyList_GET_SIZE(touched) || !PyDict_CheckExact(T.tasks) || !PyDict_CheckExact(T.pools) ||
        !PyDict_CheckExact(T.stacks) || !PyDict_CheckExact(T.waiting) ||
        !PyFloat_CheckExact(t) || !PyLong_CheckExact(order) ||
        (history != Py_None && !history_tables(R, &T, history)) ||
        (history == Py_None && PyDict_GET_SIZE(open))) {
        out = PyLong_FromSsize_t(i);
        goto done;
    }
    T.open = open;
    T.last = last;
    T.order = PyLong_AsLongLong(order);
    if (T.order == -1 && PyErr_Occurred())
        goto done;
    long long order0 = T.order;
    PyObject *t0 = t;
    double latest = PyFloat_AS_DOUBLE(t);
    int rc = 0;
    for (; i < n; i++) {
        PyObject *e = PyList_GET_ITEM(events, i);
        PyObject *et = Py_IS_TYPE(e, R->etype) ? SLOT(e, R->e[E_T]) : NULL;
        if (et == NULL || !PyFloat_CheckExact(et))
            break;
        /* Replay.apply: self.t is the latest time before the handler runs.
         * Harmless when C then leaves the event: apply() sets the same. */
        if (PyFloat_AS_DOUBLE(et) > latest) {
            latest = PyFloat_AS_DOUBLE(et);
            Py_SETREF(t, Py_NewRef(et));
        }
        T.t = t;
        rc = step(R, &T, e);
        if (rc <= 0)
            break;
    }
    /* Written back even after an error: what was applied stays applied. */
    if (t != t0 && PyObject_SetAttr(rp, s_t, t) < 0)
        rc = -1;
    if (T.order != order0) {
        PyObject *o = PyLong_FromLongLong(T.order);
        if (o == NULL || PyObject_SetAttr(rp, s_order, o) < 0)
            rc = -1;
        Py_XDECREF(o);
    }
    if (rc >= 0)
        out = PyLong_FromSsize_t(i);
done:
    Py_XDECREF(history);
    Py_XDECREF(open);
    Py_XDECREF(last);
    Py_XDECREF(touched);
    Py_XDECREF(T.tasks);
    Py_XDECREF(T.pools);
    Py_XDECREF(T.stacks);
    Py_XDECREF(T.waiting);
    Py_XDECREF(t);
    Py_XDECREF(order);
    return out;
}

/* Runner(TaskRecord, prototype, Pool, Event, fields, History, Span):
 * ``fields`` are TaskRecord's field names in order, checked against what
 * this file knows. */
static int
runner_init(Runner *R, PyObject *args, PyObject *kwds)
{
    PyObject *rtype, *proto, *ptype, *etype, *fields, *htype, *stype;
    if (!PyArg_ParseTuple(args, "O!OO!O!O!O!O!:Runner", &PyType_Type, &rtype, &proto,
                          &PyType_Type, &ptype, &PyType_Type, &etype, &PyTuple_Type, &fields,
                          &PyType_Type, &htype, &PyType_Type, &stype))
        return -1;
    int match = PyTuple_GET_SIZE(fields) == R_N;
    for (int i = 0; match && i < R_N; i++) {
        PyObject *f = PyTuple_GET_ITEM(fields, i);
        match = PyUnicode_Check(f) && PyUnicode_CompareWithASCIIString(f, record_fields[i]) == 0;
    }
    if (!match) {
        PyErr_SetString(PyExc_TypeError, "TaskRecord's fields are not those _replay.c knows");
        return -1;
    }
    if (!Py_IS_TYPE(proto, (PyTypeObject *)rtype)) {
        PyErr_SetString(PyExc_TypeError, "the prototype is not a TaskRecord");
        return -1;
    }
    if (offsets((PyTypeObject *)rtype, record_fields, R_N, R->r) < 0 ||
        offsets((PyTypeObject *)ptype, pool_fields, P_N, R->p) < 0 ||
        offsets((PyTypeObject *)etype, event_fields, E_N, R->e) < 0 ||
        offsets((PyTypeObject *)htype, history_fields, H_N, R->h) < 0 ||
        offsets((PyTypeObject *)stype, span_fields, S_N, R->s) < 0)
        return -1;
    for (int i = 0; i < R_N; i++)
        if (SLOT(proto, R->r[i]) == NULL) {
            PyErr_SetString(PyExc_TypeError, "the prototype has unset fields");
            return -1;
        }
    Py_XSETREF(R->rtype, (PyTypeObject *)Py_NewRef(rtype));
    Py_XSETREF(R->ptype, (PyTypeObject *)Py_NewRef(ptype));
    Py_XSETREF(R->etype, (PyTypeObject *)Py_NewRef(etype));
    Py_XSETREF(R->htype, (PyTypeObject *)Py_NewRef(htype));
    Py_XSETREF(R->stype, (PyTypeObject *)Py_NewRef(stype));
    Py_XSETREF(R->proto, Py_NewRef(proto));
    return 0;
}

static int
runner_traverse(Runner *R, visitproc visit, void *arg)
{
    Py_VISIT(R->rtype);
    Py_VISIT(R->ptype);
    Py_VISIT(R->etype);
    Py_VISIT(R->htype);
    Py_VISIT(R->stype);
    Py_VISIT(R->proto);
    return 0;
}

static int
runner_clear(Runner *R)
{
    Py_CLEAR(R->rtype);
    Py_CLEAR(R->ptype);
    Py_CLEAR(R->etype);
    Py_CLEAR(R->htype);
    Py_CLEAR(R->stype);
    Py_CLEAR(R->proto);
    return 0;
}

static void
runner_dealloc(Runner *R)
{
    PyObject_GC_UnTrack(R);
    runner_clear(R);
    Py_TYPE(R)->tp_free((PyObject *)R);
}

static PyMethodDef runner_methods[] = {
    {"run", (PyCFunction)(void (*)(void))runner_run, METH_FASTCALL,
     "run(replay, events, start) -> the index of the first event not applied"},
    {NULL}};

static PyTypeObject RunnerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "hueyviz.analysis._replay.Runner",
    .tp_basicsize = sizeof(Runner),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Runner(TaskRecord, prototype, Pool, Event, fields, History, Span): the replay's plain events in C",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)runner_init,
    .tp_traverse = (traverseproc)runner_traverse,
    .tp_clear = (inquiry)runner_clear,
    .tp_dealloc = (destructor)runner_dealloc,
    .tp_methods = runner_methods,
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_replay",
                                    "The replay's common events in C (see _replay.c).", -1};

PyMODINIT_FUNC
PyInit__replay(void)
{
    struct { PyObject **p; const char *s; } names[] = {
        {&s_queued, "queued"}, {&s_running, "running"}, {&s_blocked, "blocked"},
        {&s_finished, "finished"}, {&s_enqueued, "enqueued"}, {&s_executing, "executing"},
        {&s_complete, "complete"}, {&s_error, "error"}, {&s_then, "then"},
        {&s_priority, "priority"}, {&s_parent, "parent"}, {&s_via, "via"}, {&s_args, "args"},
        {&s_stored, "stored"}, {&s_t, "t"}, {&s_order, "_order"}, {&s_tasks, "tasks"},
        {&s_pools, "pools"}, {&s_stacks, "stacks"}, {&s_waiting, "waiting"},
        {&s_history, "history"}, {&s_open, "_open"}, {&s_last, "_last"},
        {&s_touched, "_touched"}, {&s_finished_complete, "finished:complete"},
        {&s_finished_error, "finished:error"}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if ((*names[i].p = PyUnicode_InternFromString(names[i].s)) == NULL)
            return NULL;
    if (PyType_Ready(&RunnerType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "Runner", (PyObject *)&RunnerType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
