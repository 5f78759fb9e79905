/* The tracer's hot path in C: Huey's signal receiver and the ring recorder.
 *
 * Optional: hueyviz.record.hook and hueyviz.record.sink use these when the
 * extension was built, and their Python versions otherwise.  They do the
 * same thing step for step (tests/test_hotpath.py runs both on the same
 * work and compares the events); what is rare (an enqueue with a parent, a
 * pipeline, an eta or a priority, an error, captured arguments, any other
 * signal) is handed to the Python receiver whole.  What C saves is the
 * interpreter's frames: two Python calls per signal, three signals per
 * task (bench/instructions.py, figure l).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>

static PyObject *s_executing, *s_complete, *s_enqueued;
static PyObject *s_id, *s_name, *s_stored, *s_stack, *s_worker;
static PyObject *s_on_complete, *s_eta, *s_priority, *s_dropped, *s_any, *s_receivers;

/* -- Recorder -------------------------------------------------------------
 * Recorder(buf, most, sink, clock, failed, event):
 *     record(kind, task, name, worker, data, queue=None)
 * appends event(clock(), kind, intern(task), name, worker, data, queue) to
 * the deque ``buf``, counting in ``sink.dropped`` what the full ring pushes
 * out; any error calls failed("sink") (as MemorySink.recorder's closure). */
typedef struct {
    PyObject_HEAD
    PyObject *buf, *append, *sink, *clock, *failed, *event;
    Py_ssize_t most;
    vectorcallfunc vectorcall;
} Recorder;

static int
recorder_store(Recorder *self, PyObject *const *args, Py_ssize_t n)
{
    PyObject *task = n > 1 ? args[1] : Py_None;
    Py_ssize_t size = PyObject_Size(self->buf);
    if (size < 0)
        return -1;
    if (size == self->most) {
        PyObject *old = PyObject_GetAttr(self->sink, s_dropped);
        if (old == NULL)
            return -1;
        PyObject *one = PyLong_FromLong(1);
        PyObject *new = one ? PyNumber_Add(old, one) : NULL;
        Py_DECREF(old);
        Py_XDECREF(one);
        if (new == NULL)
            return -1;
        int rc = PyObject_SetAttr(self->sink, s_dropped, new);
        Py_DECREF(new);
        if (rc < 0)
            return -1;
    }
    PyObject *t = PyObject_CallNoArgs(self->clock);
    if (t == NULL)
        return -1;
    Py_INCREF(task);
    if (task != Py_None) {
        if (!PyUnicode_CheckExact(task)) {     /* as sys.intern refuses it */
            PyErr_Format(PyExc_TypeError, "can't intern %.400s", Py_TYPE(task)->tp_name);
            Py_DECREF(task);
            Py_DECREF(t);
            return -1;
        }
        PyUnicode_InternInPlace(&task);
    }
    PyObject *fields[7] = {t, n > 0 ? args[0] : Py_None, task,
                           n > 2 ? args[2] : Py_None, n > 3 ? args[3] : Py_None,
                           n > 4 ? args[4] : Py_None, n > 5 ? args[5] : Py_None};
    PyObject *ev = PyObject_Vectorcall(self->event, fields, 7, NULL);
    Py_DECREF(task);
    Py_DECREF(t);
    if (ev == NULL)
        return -1;
    PyObject *res = PyObject_Vectorcall(self->append, &ev, 1, NULL);
    Py_DECREF(ev);
    if (res == NULL)
        return -1;
    Py_DECREF(res);
    return 0;
}

static PyObject *
recorder_vectorcall(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Recorder *self = (Recorder *)op;
    Py_ssize_t n = PyVectorcall_NARGS(nargsf);
    if ((kwnames != NULL && PyTuple_GET_SIZE(kwnames)) || n < 5 || n > 6) {
        PyErr_SetString(PyExc_TypeError,
                        "record(kind, task, name, worker, data, queue=None)");
        return NULL;
    }
    if (recorder_store(self, args, n) < 0) {
        PyErr_Clear();
        PyObject *where = PyUnicode_FromString("sink");
        if (where == NULL)
            return NULL;
        PyObject *r = PyObject_CallOneArg(self->failed, where);
        Py_DECREF(where);
        if (r == NULL)
            return NULL;
        Py_DECREF(r);
    }
    Py_RETURN_NONE;
}

static PyObject *
recorder_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *buf, *sink, *clock, *failed, *event;
    Py_ssize_t most;
    if (!PyArg_ParseTuple(args, "OnOOOO:Recorder", &buf, &most, &sink, &clock, &failed, &event))
        return NULL;
    PyObject *append = PyObject_GetAttrString(buf, "append");
    if (append == NULL)
        return NULL;
    Recorder *self = (Recorder *)type->tp_alloc(type, 0);
    if (self == NULL) {
        Py_DECREF(append);
        return NULL;
    }
    self->append = append;
    Py_INCREF(buf); self->buf = buf;
    Py_INCREF(sink); self->sink = sink;
    Py_INCREF(clock); self->clock = clock;
    Py_INCREF(failed); self->failed = failed;
    Py_INCREF(event); self->event = event;
    self->most = most;
    self->vectorcall = recorder_vectorcall;
    return (PyObject *)self;
}

static int
recorder_traverse(Recorder *self, visitproc visit, void *arg)
{
    Py_VISIT(self->buf); Py_VISIT(self->append); Py_VISIT(self->sink);
    Py_VISIT(self->clock); Py_VISIT(self->failed); Py_VISIT(self->event);
    return 0;
}

static int
recorder_clear(Recorder *self)
{
    Py_CLEAR(self->buf); Py_CLEAR(self->append); Py_CLEAR(self->sink);
    Py_CLEAR(self->clock); Py_CLEAR(self->failed); Py_CLEAR(self->event);
    return 0;
}

static void
recorder_dealloc(Recorder *self)
{
    PyObject_GC_UnTrack(self);
    recorder_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject RecorderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "hueyviz.record._hotpath.Recorder",
    .tp_basicsize = sizeof(Recorder),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "record(kind, task, name, worker, data, queue=None) into a ring (C).",
    .tp_new = recorder_new,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(Recorder, vectorcall),
    .tp_traverse = (traverseproc)recorder_traverse,
    .tp_clear = (inquiry)recorder_clear,
    .tp_dealloc = (destructor)recorder_dealloc,
};

/* -- Receiver -------------------------------------------------------------
 * Receiver(slow, failed, emit, signal); receiver.set(local, records,
 * capture, queue, not_stored).  It takes the place of ``huey._emit``:
 * receiver(signal, task, *args, **kwargs) records what HueyHook._on_signal
 * records (itself for "executing", "complete" and a plain top-level
 * "enqueued"; by calling ``slow``, that method, for anything else), then
 * calls ``emit``, Huey's own, for the application's receivers.  With
 * ``signal`` (Huey's Signal, given when ``emit`` is Huey's unchanged) it
 * skips that call when no receiver is connected for the signal, which is
 * all that Huey's ``_emit`` would do.  Nothing recording does reaches the
 * task: an error calls failed(). */
typedef struct {
    PyObject_HEAD
    PyObject *slow, *failed, *emit, *signal;
    PyObject *local, *records, *queue, *not_stored;
    int capture;
    vectorcallfunc vectorcall;
} Receiver;

/* 1: the signal is not for the fast path; 0: *data set (a new reference); -1: error */
static int
receiver_data(Receiver *self, PyObject *signal, PyObject *task, PyObject *tid, PyObject **data)
{
    if (signal == s_executing) {
        Py_INCREF(Py_None);
        *data = Py_None;
        return 0;
    }
    if (signal == s_complete) {
        PyObject *stored = PyObject_GetAttr(self->local, s_stored);
        if (stored == NULL)
            return -1;
        int same = PyObject_RichCompareBool(stored, tid, Py_EQ);
        Py_DECREF(stored);
        if (same < 0)
            return -1;
        if (PyObject_SetAttr(self->local, s_stored, Py_None) < 0)
            return -1;
        *data = same ? Py_None : self->not_stored;
        Py_INCREF(*data);
        return 0;
    }
    if (signal == s_enqueued && !self->capture) {
        PyObject *stack = PyObject_GetAttr(self->local, s_stack);
        if (stack == NULL)
            return -1;
        int nested = PyObject_IsTrue(stack);
        Py_DECREF(stack);
        if (nested)
            return nested < 0 ? -1 : 1;
        PyObject *names[3] = {s_on_complete, s_eta, s_priority};
        for (int i = 0; i < 3; i++) {
            PyObject *v = PyObject_GetAttr(task, names[i]);
            if (v == NULL)
                return -1;
            int plain = i < 2 ? v == Py_None : !PyObject_IsTrue(v);
            if (i == 2 && PyErr_Occurred()) {
                Py_DECREF(v);
                return -1;
            }
            Py_DECREF(v);
            if (!plain)
                return 1;
        }
        Py_INCREF(Py_None);
        *data = Py_None;
        return 0;
    }
    return 1;
}

static int
receiver_emit(Receiver *self, PyObject *signal, PyObject *task, PyObject *tid, PyObject *data)
{
    PyObject *name = PyObject_GetAttr(task, s_name);
    PyObject *worker = name ? PyObject_GetAttr(self->local, s_worker) : NULL;
    int rc = worker ? 0 : -1;
    if (rc == 0) {
        PyObject *args[6] = {signal, tid, name, worker, data, self->queue};
        Py_ssize_t n = PyTuple_GET_SIZE(self->records);
        for (Py_ssize_t i = 0; i < n && rc == 0; i++) {
            PyObject *r = PyObject_Vectorcall(PyTuple_GET_ITEM(self->records, i), args, 6, NULL);
            if (r == NULL)
                rc = -1;
            else
                Py_DECREF(r);
        }
    }
    Py_XDECREF(name);
    Py_XDECREF(worker);
    return rc;
}

/* The recording part: 0 done (or failed and counted), -1 failed() itself failed */
static int
receiver_record(Receiver *self, PyObject *const *args, Py_ssize_t n)
{
    PyObject *signal = args[0], *task = args[1], *data = NULL, *tid = NULL;
    int rc = 1;
    if (signal == s_executing || signal == s_complete || signal == s_enqueued) {
        tid = PyObject_GetAttr(task, s_id);
        rc = tid == NULL ? -1 : receiver_data(self, signal, task, tid, &data);
    }
    if (rc == 1) {
        /* Huey's signals are string constants: one equal to the hot three
         * but another object is handed over like a rare one. */
        PyObject *r = PyObject_Vectorcall(self->slow, args, n, NULL);
        Py_XDECREF(r);
        rc = r == NULL ? -1 : 0;
    }
    else if (rc == 0) {
        rc = receiver_emit(self, signal, task, tid, data);
        Py_DECREF(data);
    }
    Py_XDECREF(tid);
    if (rc < 0) {
        PyErr_Clear();
        PyObject *r = PyObject_CallNoArgs(self->failed);
        if (r == NULL)
            return -1;
        Py_DECREF(r);
    }
    return 0;
}

/* Whether Huey's Signal has a receiver for ``signal`` ("any" or its own). */
static int
has_receivers(PyObject *sig, PyObject *signal)
{
    PyObject *receivers = PyObject_GetAttr(sig, s_receivers);
    if (receivers == NULL)
        return -1;
    int found = 0;
    if (!PyDict_Check(receivers))
        found = 1;
    else {
        PyObject *keys[2] = {s_any, signal};
        for (int i = 0; i < 2 && !found; i++) {
            PyObject *lst = PyDict_GetItemWithError(receivers, keys[i]);
            if (lst == NULL && PyErr_Occurred()) {
                Py_DECREF(receivers);
                return -1;
            }
            found = lst != NULL && !(PyList_Check(lst) && PyList_GET_SIZE(lst) == 0);
        }
    }
    Py_DECREF(receivers);
    return found;
}

static PyObject *
receiver_vectorcall(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Receiver *self = (Receiver *)op;
    Py_ssize_t n = PyVectorcall_NARGS(nargsf);
    if (n >= 2 && self->local != NULL && receiver_record(self, args, n) < 0)
        PyErr_WriteUnraisable(op);
    if (self->signal != NULL && n >= 1) {
        int others = has_receivers(self->signal, args[0]);
        if (others == 0)
            Py_RETURN_NONE;
        if (others < 0)
            PyErr_Clear();
    }
    return PyObject_Vectorcall(self->emit, args, nargsf, kwnames);
}

static PyObject *
receiver_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *slow, *failed, *emit, *signal;
    if (!PyArg_ParseTuple(args, "OOOO:Receiver", &slow, &failed, &emit, &signal))
        return NULL;
    Receiver *self = (Receiver *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    Py_INCREF(slow); self->slow = slow;
    Py_INCREF(failed); self->failed = failed;
    Py_INCREF(emit); self->emit = emit;
    if (signal != Py_None) {
        Py_INCREF(signal);
        self->signal = signal;
    }
    self->vectorcall = receiver_vectorcall;
    return (PyObject *)self;
}

static PyObject *
receiver_set(Receiver *self, PyObject *args)
{
    PyObject *local, *records, *queue, *not_stored;
    int capture;
    if (!PyArg_ParseTuple(args, "OO!pOO:set", &local, &PyTuple_Type, &records, &capture,
                          &queue, &not_stored))
        return NULL;
    Py_INCREF(local); Py_XSETREF(self->local, local);
    Py_INCREF(records); Py_XSETREF(self->records, records);
    Py_INCREF(queue); Py_XSETREF(self->queue, queue);
    Py_INCREF(not_stored); Py_XSETREF(self->not_stored, not_stored);
    self->capture = capture;
    Py_RETURN_NONE;
}

static PyMethodDef receiver_methods[] = {
    {"set", (PyCFunction)receiver_set, METH_VARARGS,
     "set(local, records, capture, queue, not_stored): what the receiver reads."},
    {NULL, NULL, 0, NULL},
};

static int
receiver_traverse(Receiver *self, visitproc visit, void *arg)
{
    Py_VISIT(self->slow); Py_VISIT(self->failed); Py_VISIT(self->local);
    Py_VISIT(self->emit); Py_VISIT(self->signal);
    Py_VISIT(self->records); Py_VISIT(self->queue); Py_VISIT(self->not_stored);
    return 0;
}

static int
receiver_clear(Receiver *self)
{
    Py_CLEAR(self->slow); Py_CLEAR(self->failed); Py_CLEAR(self->local);
    Py_CLEAR(self->emit); Py_CLEAR(self->signal);
    Py_CLEAR(self->records); Py_CLEAR(self->queue); Py_CLEAR(self->not_stored);
    return 0;
}

static void
receiver_dealloc(Receiver *self)
{
    PyObject_GC_UnTrack(self);
    receiver_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject ReceiverType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "hueyviz.record._hotpath.Receiver",
    .tp_basicsize = sizeof(Receiver),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "huey._emit that records the signal first (C).",
    .tp_new = receiver_new,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(Receiver, vectorcall),
    .tp_methods = receiver_methods,
    .tp_traverse = (traverseproc)receiver_traverse,
    .tp_clear = (inquiry)receiver_clear,
    .tp_dealloc = (destructor)receiver_dealloc,
};

static struct PyModuleDef hotpath_module = {
    PyModuleDef_HEAD_INIT, "hueyviz.record._hotpath",
    "The tracer's hot path in C (optional; the Python versions do the same).", -1, NULL,
};

#define INTERN(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL

PyMODINIT_FUNC
PyInit__hotpath(void)
{
    INTERN(s_executing, "executing");
    INTERN(s_complete, "complete");
    INTERN(s_enqueued, "enqueued");
    INTERN(s_id, "id");
    INTERN(s_name, "name");
    INTERN(s_stored, "stored");
    INTERN(s_stack, "stack");
    INTERN(s_worker, "worker");
    INTERN(s_on_complete, "on_complete");
    INTERN(s_eta, "eta");
    INTERN(s_priority, "priority");
    INTERN(s_dropped, "dropped");
    INTERN(s_any, "any");
    INTERN(s_receivers, "receivers");
    if (PyType_Ready(&RecorderType) < 0 || PyType_Ready(&ReceiverType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&hotpath_module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "Recorder", (PyObject *)&RecorderType) < 0 ||
        PyModule_AddObjectRef(m, "Receiver", (PyObject *)&ReceiverType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
