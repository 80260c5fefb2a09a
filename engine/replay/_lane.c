/*
 * The replay's plain lane, compiled.
 *
 * Nearly every line of a real log is a well-formed utilization report, and in Python the
 * cost of such a line is mostly the interpreter's. This module takes those lines through
 * the same decisions as the Python reference, which stays the authority:
 *
 *   read_plain_utilization(raw)   is  engine.events.reader.read_plain_utilization
 *   plain(engine, decide, raw, number)  is  Engine._plain_reference with AgreementReplay.plain_utilization
 *
 * and, for the routing pass of `backstop replay --workers` (engine/parallel.py):
 *
 *   route(raw)                    the `agreement` and `id` orjson would read, for a plain line
 *   ids_apart(arrays)             is  engine.replay.parallel.ids_apart_reference
 *
 * `plain` handles only the common case in C: a span already learnt, a key that exists, a
 * sum within capacity and a record whose fields fit. Anything else goes, unchanged, to the
 * Python method `AgreementReplay.plain_utilization`, and nothing here changes state before
 * it knows it will complete the line. Sums go through the engine's exact Decimal context
 * (`configure` hands it over), so the numbers are the reference's, object for object.
 * tests/replay/test_compiled_lane.py holds each to its reference, and checks the constants
 * below against the Python ones they copy.
 *
 * The lane looks up nothing by name. What it reads and writes lives in fixed slots
 * (engine.replay.lane.EngineLane and AgreementLane, the bases of Engine and AgreementReplay,
 * and the Key dataclass); `configure` hands it their member descriptors, once, and checks
 * each against the slot compiled in below, so that a slot renamed or moved on one side only
 * fails at import, never silently. `plain` is handed the engine, and the Python method that
 * decides what it leaves, with each line.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define PLAIN_MEMBERS 8
#define PLAIN_QUOTES (4 * PLAIN_MEMBERS)
#define ID_CHARS_MAX 128
#define HEAD_BYTES 37 /* struct "<qqiiiHHBI": engine.replay.inputs._HEAD */
#define UTILIZATION 0 /* engine.replay.inputs.UTILIZATION, the record's kind */

/* Set by configure(): what the lane shares with the Python reference. */
static PyObject *loads, *decode_error, *quantities, *quantity, *zero, *exact_add;

/* Interned names: the line's members. */
static PyObject *member[PLAIN_MEMBERS], *s_utilization, *one;

/* The slots the lane reads and writes, as engine.replay.lane hands their descriptors to
 * configure (ENGINE_FIELDS, AGREEMENT_FIELDS, KEY_FIELDS), which checks them against these. */
enum { ENGINE_AGREEMENTS, ENGINE_IDS, ENGINE_LINES, ENGINE_FIELDS };
enum { AGREEMENT_SPANS, AGREEMENT_LOCKED_BELOW, AGREEMENT_CAPACITIES, AGREEMENT_KEYS, AGREEMENT_CLOSED,
       AGREEMENT_RESTATED, AGREEMENT_NUMBER, AGREEMENT_FIELDS };
enum { KEY_AVAILABLE, KEY_SOLD, KEY_INPUTS, KEY_FIELDS };
static const char *engine_slots[ENGINE_FIELDS] = {"agreements", "ids", "lines"};
static const char *agreement_slots[AGREEMENT_FIELDS] = {"_spans", "locked_below", "_capacities", "keys",
                                                        "closed", "restated", "number"};
static const char *key_slots[KEY_FIELDS] = {"available", "sold", "inputs"};
static PyObject *engine_field[ENGINE_FIELDS], *agreement_field[AGREEMENT_FIELDS], *key_field[KEY_FIELDS];

/* owner's slot through its member descriptor, as Python reads it: a new reference, NULL on
 * error (an owner of another type, or the slot empty). */
static PyObject *
get_slot(PyObject *field, PyObject *owner)
{
    return Py_TYPE(field)->tp_descr_get(field, owner, (PyObject *)Py_TYPE(owner));
}

static int
set_slot(PyObject *field, PyObject *owner, PyObject *value)
{
    return Py_TYPE(field)->tp_descr_set(field, owner, value);
}

enum { ID, TYPE, AGREEMENT, POOL, START, END, AVAILABLE, SOLD };

/* A quantity's shared Decimal, as `_QUANTITIES.get(text) or _quantity(text)`: a new
 * reference, Py_None if the text is no SPEC decimal, NULL on error. */
static PyObject *
quantity_of(PyObject *text)
{
    PyObject *found = PyDict_GetItemWithError(quantities, text);
    if (found != NULL)
        return Py_NewRef(found);
    if (PyErr_Occurred())
        return NULL;
    return PyObject_CallOneArg(quantity, text);
}

/* "available sold": both texts passed the decimal pattern, so are ASCII. */
static PyObject *
values_text(PyObject *available, PyObject *sold)
{
    if (!PyUnicode_IS_ASCII(available) || !PyUnicode_IS_ASCII(sold))
        return PyUnicode_FromFormat("%U %U", available, sold);
    Py_ssize_t a = PyUnicode_GET_LENGTH(available), s = PyUnicode_GET_LENGTH(sold);
    PyObject *text = PyUnicode_New(a + 1 + s, 127);
    if (text == NULL)
        return NULL;
    Py_UCS1 *data = PyUnicode_1BYTE_DATA(text);
    memcpy(data, PyUnicode_1BYTE_DATA(available), a);
    data[a] = ' ';
    memcpy(data + a + 1, PyUnicode_1BYTE_DATA(sold), s);
    return text;
}

/* A JSON string from *p on written plainly: printable ASCII and no escape, so that its text
 * is its bytes. 1 with *p moved past it and its text given; 0 if it is not one. */
static int
plain_string(const char **p, const char *stop, const char **text, Py_ssize_t *length)
{
    const char *q = *p;
    if (q == stop || *q++ != '"')
        return 0;
    const char *start = q;
    while (q < stop && *q != '"') {
        unsigned char byte = (unsigned char)*q++;
        if (byte < 0x20 || byte > 0x7e || byte == '\\')
            return 0;
    }
    if (q == stop)
        return 0;
    *text = start;
    *length = q - start;
    *p = q + 1;
    return 1;
}

/* A member "name":"text" from *p on, both strings written plainly, with no white space. */
static int
plain_member(const char **p, const char *stop, const char *texts[2], Py_ssize_t lengths[2])
{
    if (!plain_string(p, stop, &texts[0], &lengths[0]) || *p == stop || *(*p)++ != ':')
        return 0;
    return plain_string(p, stop, &texts[1], &lengths[1]);
}

/* The members of a line written the way nearly every writer writes one: {"name":"text",...}
 * with the eight members once each, no white space, and texts of printable ASCII without
 * escapes. Such a line is valid JSON, and its texts are its bytes, so it is read here without
 * a general parser. 1 with `v` filled (new references), 0 if the line has another form
 * (orjson reads it then), -1 on error. */
static int
members_written_plainly(const char *p, const char *stop, PyObject *v[PLAIN_MEMBERS])
{
    static const char *names[PLAIN_MEMBERS] = {"id", "type", "agreement", "pool", "start", "end",
                                               "available_gpu_hours", "sold_gpu_hours"};
    static const Py_ssize_t name_lengths[PLAIN_MEMBERS] = {2, 4, 9, 4, 5, 3, 19, 14};
    unsigned seen = 0;
    if (p == stop || *p++ != '{')
        return 0;
    for (int i = 0; i < PLAIN_MEMBERS; i++) {
        const char *texts[2];
        Py_ssize_t lengths[2];
        if (!plain_member(&p, stop, texts, lengths))
            return 0;
        int which = -1;
        for (int k = 0; k < PLAIN_MEMBERS; k++)
            if (name_lengths[k] == lengths[0] && memcmp(names[k], texts[0], lengths[0]) == 0)
                which = k;
        if (which < 0 || seen & (1u << which))
            return 0;
        seen |= 1u << which;
        PyObject *text = PyUnicode_New(lengths[1], 127);
        if (text == NULL)
            return -1;
        memcpy(PyUnicode_1BYTE_DATA(text), texts[1], lengths[1]);
        v[which] = text;
        if (p == stop || *p++ != (i == PLAIN_MEMBERS - 1 ? '}' : ','))
            return 0;
    }
    return p == stop;
}

/* The members as orjson reads the line: 1 with `v` filled (new references), 0 if it is no
 * flat object of exactly these eight members with string values, -1 on error. */
static int
members_read_by_orjson(PyObject *raw, PyObject *v[PLAIN_MEMBERS])
{
    /* Eight distinct members with string values hold exactly 32 quotes when none is
     * escaped; a repeated key, which orjson would drop silently, adds its own. */
    const char *p = PyBytes_AS_STRING(raw), *stop = p + PyBytes_GET_SIZE(raw);
    int quotes = 0;
    while ((p = memchr(p, '"', stop - p)) != NULL) {
        if (++quotes > PLAIN_QUOTES)
            return 0;
        p++;
    }
    if (quotes != PLAIN_QUOTES)
        return 0;
    PyObject *obj = PyObject_CallOneArg(loads, raw);
    if (obj == NULL) {
        if (PyErr_ExceptionMatches(decode_error)) {
            PyErr_Clear();
            return 0;
        }
        return -1;
    }
    int status = 0;
    if (PyDict_CheckExact(obj) && PyDict_GET_SIZE(obj) == PLAIN_MEMBERS) {
        status = 1;
        for (int i = 0; i < PLAIN_MEMBERS && status == 1; i++) {
            PyObject *value = PyDict_GetItemWithError(obj, member[i]);
            if (value == NULL)
                status = PyErr_Occurred() ? -1 : 0;
            else if (!PyUnicode_CheckExact(value))
                status = 0;
        }
    }
    for (int i = 0; i < PLAIN_MEMBERS && status == 1; i++)
        v[i] = Py_NewRef(PyDict_GetItem(obj, member[i]));
    Py_DECREF(obj);
    return status;
}

static PyObject *
read_plain_utilization(PyObject *module, PyObject *raw)
{
    if (!PyBytes_CheckExact(raw)) {
        PyErr_SetString(PyExc_TypeError, "read_plain_utilization() takes bytes");
        return NULL;
    }
    if (loads == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "engine.replay._lane is not configured");
        return NULL;
    }
    PyObject *result = NULL, *available = NULL, *sold = NULL, *v[PLAIN_MEMBERS] = {NULL};
    const char *start = PyBytes_AS_STRING(raw);
    int found = members_written_plainly(start, start + PyBytes_GET_SIZE(raw), v);
    if (found == 0) {
        for (int i = 0; i < PLAIN_MEMBERS; i++)
            Py_CLEAR(v[i]);
        found = members_read_by_orjson(raw, v);
    }
    if (found < 0)
        goto done;
    if (found == 0)
        goto not_plain;
    int same = PyUnicode_Compare(v[TYPE], s_utilization);
    if (same == -1 && PyErr_Occurred())
        goto done;
    if (same != 0)
        goto not_plain;
    Py_ssize_t id_chars = PyUnicode_GET_LENGTH(v[ID]);
    if (id_chars <= 0 || id_chars > ID_CHARS_MAX)
        goto not_plain;
    if ((available = quantity_of(v[AVAILABLE])) == NULL || (sold = quantity_of(v[SOLD])) == NULL)
        goto done;
    if (available == Py_None || sold == Py_None)
        goto not_plain;
    int wrong = PyObject_RichCompareBool(sold, zero, Py_LT);
    if (wrong == 0)
        wrong = PyObject_RichCompareBool(sold, available, Py_GT);
    if (wrong < 0)
        goto done;
    if (wrong)
        goto not_plain;
    PyObject *values = values_text(v[AVAILABLE], v[SOLD]);
    if (values == NULL)
        goto done;
    result = PyTuple_Pack(8, v[ID], v[AGREEMENT], v[POOL], v[START], v[END], available, sold, values);
    Py_DECREF(values);
    goto done;
not_plain:
    result = Py_NewRef(Py_None);
done:
    Py_XDECREF(available);
    Py_XDECREF(sold);
    for (int i = 0; i < PLAIN_MEMBERS; i++)
        Py_XDECREF(v[i]);
    return result;
}

/* For `backstop replay --workers`' routing pass: (agreement, id) of a line written as a flat
 * object of string members, plainly (as `members_written_plainly` reads them, any names, in
 * any number), with each of those two members once; None for any other line, which the
 * caller reads with orjson. Such a line is valid JSON, so orjson would read the same two. */
static PyObject *
route(PyObject *module, PyObject *raw)
{
    if (!PyBytes_CheckExact(raw)) {
        PyErr_SetString(PyExc_TypeError, "route() takes bytes");
        return NULL;
    }
    const char *p = PyBytes_AS_STRING(raw), *stop = p + PyBytes_GET_SIZE(raw);
    const char *found[2] = {NULL, NULL}; /* agreement, id */
    Py_ssize_t lengths[2] = {0, 0};
    if (p == stop || *p++ != '{')
        Py_RETURN_NONE;
    for (;;) {
        const char *texts[2];
        Py_ssize_t sizes[2];
        if (!plain_member(&p, stop, texts, sizes))
            Py_RETURN_NONE;
        int which = sizes[0] == 9 && memcmp(texts[0], "agreement", 9) == 0 ? 0
                    : sizes[0] == 2 && memcmp(texts[0], "id", 2) == 0  ? 1
                                                                        : -1;
        if (which >= 0) {
            if (found[which] != NULL)
                Py_RETURN_NONE; /* repeated: orjson keeps the last, the engine reads neither */
            found[which] = texts[1];
            lengths[which] = sizes[1];
        }
        if (p == stop)
            Py_RETURN_NONE;
        char separator = *p++;
        if (separator == '}')
            break;
        if (separator != ',')
            Py_RETURN_NONE;
    }
    if (p != stop || found[0] == NULL || found[1] == NULL)
        Py_RETURN_NONE;
    PyObject *agreement = PyUnicode_New(lengths[0], 127), *identifier = PyUnicode_New(lengths[1], 127);
    if (agreement == NULL || identifier == NULL) {
        Py_XDECREF(agreement);
        Py_XDECREF(identifier);
        return NULL;
    }
    memcpy(PyUnicode_1BYTE_DATA(agreement), found[0], lengths[0]);
    memcpy(PyUnicode_1BYTE_DATA(identifier), found[1], lengths[1]);
    PyObject *pair = PyTuple_Pack(2, agreement, identifier);
    Py_DECREF(agreement);
    Py_DECREF(identifier);
    return pair;
}

/* For the proof of `backstop replay --workers`: True when no value occurs in two of the
 * given buffers of 64-bit integers (the hashed ids of each agreement's lines), False when
 * one does. A value may repeat within one buffer. An open-addressing table of (value,
 * buffer) pairs, sized to the total, does it in one pass. */
static PyObject *
ids_apart(PyObject *module, PyObject *owned)
{
    PyObject *sequence = PySequence_Fast(owned, "ids_apart() takes a sequence of arrays of 64-bit integers");
    if (sequence == NULL)
        return NULL;
    Py_ssize_t parts = PySequence_Fast_GET_SIZE(sequence), total = 0;
    Py_buffer *views = PyMem_Calloc(parts ? parts : 1, sizeof(Py_buffer));
    PyObject *result = NULL;
    int64_t *values = NULL;
    Py_ssize_t *owners = NULL, taken = 0, capacity = 1;
    if (views == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (; taken < parts; taken++) {
        if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(sequence, taken), &views[taken], PyBUF_FORMAT) < 0)
            goto done;
        if (views[taken].itemsize != 8 || views[taken].format == NULL || strchr("qlLQ", views[taken].format[0]) == NULL) {
            PyErr_SetString(PyExc_TypeError, "ids_apart() takes arrays of 64-bit integers");
            taken++;
            goto done;
        }
        total += views[taken].len / 8;
    }
    while (capacity < 2 * total + 2)
        capacity <<= 1;
    values = PyMem_Malloc(capacity * sizeof(int64_t));
    owners = PyMem_Malloc(capacity * sizeof(Py_ssize_t));
    if (values == NULL || owners == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < capacity; i++)
        owners[i] = -1;
    int apart = 1;
    for (Py_ssize_t part = 0; part < parts && apart; part++) {
        const int64_t *items = views[part].buf;
        Py_ssize_t count = views[part].len / 8;
        for (Py_ssize_t i = 0; i < count; i++) {
            uint64_t mixed = (uint64_t)items[i] * 0x9E3779B97F4A7C15ull;
            Py_ssize_t slot = (Py_ssize_t)(mixed >> 17) & (capacity - 1);
            while (owners[slot] != -1 && values[slot] != items[i])
                slot = (slot + 1) & (capacity - 1);
            if (owners[slot] == -1) {
                owners[slot] = part;
                values[slot] = items[i];
            } else if (owners[slot] != part) {
                apart = 0;
                break;
            }
        }
    }
    result = PyBool_FromLong(apart);
done:
    for (Py_ssize_t i = 0; i < taken; i++)
        PyBuffer_Release(&views[i]);
    PyMem_Free(views);
    PyMem_Free(values);
    PyMem_Free(owners);
    Py_DECREF(sequence);
    return result;
}

/* An int attribute as a C integer; 0 with *ok cleared when it is none or out of range. */
static long long
integer(PyObject *value, int *ok)
{
    int overflow = 0;
    long long n = PyLong_Check(value) ? PyLong_AsLongLongAndOverflow(value, &overflow) : 0;
    if (!PyLong_Check(value) || overflow || (n == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        *ok = 0;
    }
    return n;
}

static void
put_le(unsigned char *to, uint64_t value, int bytes)
{
    for (int i = 0; i < bytes; i++)
        to[i] = (unsigned char)(value >> (8 * i));
}

/* AgreementReplay.plain_utilization's common case: 1 applied, 0 for the Python method to
 * decide (nothing has changed), -1 on error. */
static int
apply_common(PyObject *replay, PyObject *line, long long order, long long number, PyObject *ids)
{
    PyObject *event_id = PyTuple_GET_ITEM(line, 0), *pool_text = PyTuple_GET_ITEM(line, 2),
             *start = PyTuple_GET_ITEM(line, 3), *end = PyTuple_GET_ITEM(line, 4),
             *available = PyTuple_GET_ITEM(line, 5), *sold = PyTuple_GET_ITEM(line, 6),
             *values = PyTuple_GET_ITEM(line, 7);
    PyObject *spans = NULL, *span = NULL, *found = NULL, *locked = NULL, *capacities = NULL, *keys = NULL,
             *key = NULL, *total = NULL,
             *sold_total = NULL, *key_available = NULL, *key_sold = NULL, *inputs = NULL, *closed = NULL,
             *agreement_number = NULL, *record = NULL;
    int status = 0, ok = 1;

    /* span = self._spans.get(start), learnt already, with this end */
    if ((spans = get_slot(agreement_field[AGREEMENT_SPANS], replay)) == NULL)
        goto error;
    if (!PyDict_CheckExact(spans))
        goto done;
    span = PyDict_GetItemWithError(spans, start);
    if (span == NULL) {
        if (PyErr_Occurred())
            goto error;
        goto done;
    }
    Py_INCREF(span); /* held while it is read: its parts are used to the end */
    if (!PyTuple_CheckExact(span) || PyTuple_GET_SIZE(span) != 3)
        goto done;
    int same = PyObject_RichCompareBool(PyTuple_GET_ITEM(span, 0), end, Py_EQ);
    if (same < 0)
        goto error;
    if (!same)
        goto done;
    PyObject *index_object = PyTuple_GET_ITEM(span, 1);
    long long index = integer(index_object, &ok), span_number = integer(PyTuple_GET_ITEM(span, 2), &ok);

    /* not locked */
    if ((locked = get_slot(agreement_field[AGREEMENT_LOCKED_BELOW], replay)) == NULL)
        goto error;
    long long locked_below = integer(locked, &ok);
    if (!ok || index < locked_below || index < 0 || index > INT32_MAX || span_number < 0 ||
        span_number > UINT32_MAX)
        goto done;

    /* (pool number, pool, capacity) = self._capacities[index].get(pool) */
    if ((capacities = get_slot(agreement_field[AGREEMENT_CAPACITIES], replay)) == NULL)
        goto error;
    if (!PyList_CheckExact(capacities) || index >= PyList_GET_SIZE(capacities))
        goto done;
    PyObject *pools = PyList_GET_ITEM(capacities, index);
    if (!PyDict_CheckExact(pools))
        goto done;
    found = PyDict_GetItemWithError(pools, pool_text);
    if (found == NULL) {
        if (PyErr_Occurred())
            goto error;
        goto done;
    }
    Py_INCREF(found);
    if (!PyTuple_CheckExact(found) || PyTuple_GET_SIZE(found) != 3)
        goto done;
    long long pool_number = integer(PyTuple_GET_ITEM(found, 0), &ok);
    PyObject *pool = PyTuple_GET_ITEM(found, 1), *capacity = PyTuple_GET_ITEM(found, 2);
    if (!ok || pool_number < 0 || pool_number > UINT16_MAX)
        goto done;

    /* the key, which the Python method makes when it is new */
    if ((keys = get_slot(agreement_field[AGREEMENT_KEYS], replay)) == NULL)
        goto error;
    if (!PyDict_CheckExact(keys))
        goto done;
    PyObject *period_keys = PyDict_GetItemWithError(keys, index_object);
    if (period_keys == NULL || !PyDict_CheckExact(period_keys)) {
        if (PyErr_Occurred())
            goto error;
        goto done;
    }
    key = PyDict_GetItemWithError(period_keys, pool);
    if (key == NULL) {
        if (PyErr_Occurred())
            goto error;
        goto done;
    }
    Py_INCREF(key);

    /* both sums, exact, and the capacity check, before anything changes */
    if ((key_available = get_slot(key_field[KEY_AVAILABLE], key)) == NULL)
        goto error;
    PyObject *arguments[2] = {key_available, available};
    if ((total = PyObject_Vectorcall(exact_add, arguments, 2, NULL)) == NULL)
        goto error;
    int over = PyObject_RichCompareBool(total, capacity, Py_GT);
    if (over < 0)
        goto error;
    if (over)
        goto done;
    if ((key_sold = get_slot(key_field[KEY_SOLD], key)) == NULL)
        goto error;
    arguments[0] = key_sold;
    arguments[1] = sold;
    if ((sold_total = PyObject_Vectorcall(exact_add, arguments, 2, NULL)) == NULL)
        goto error;
    if ((inputs = get_slot(key_field[KEY_INPUTS], key)) == NULL)
        goto error;
    if ((closed = get_slot(agreement_field[AGREEMENT_CLOSED], replay)) == NULL)
        goto error;
    long long closed_below = integer(closed, &ok);

    /* the input's record, as engine.replay.inputs.plain_utilization_head(...) + values */
    if ((agreement_number = get_slot(agreement_field[AGREEMENT_NUMBER], replay)) == NULL)
        goto error;
    long long agreement = integer(agreement_number, &ok);
    if (!ok || !PyList_CheckExact(inputs) || agreement < 0 || agreement > UINT16_MAX ||
        !PyUnicode_IS_ASCII(values))
        goto done;
    Py_ssize_t value_bytes = PyUnicode_GET_LENGTH(values);
    if ((record = PyBytes_FromStringAndSize(NULL, HEAD_BYTES + value_bytes)) == NULL)
        goto error;
    unsigned char *to = (unsigned char *)PyBytes_AS_STRING(record);
    put_le(to, (uint64_t)order, 8);
    put_le(to + 8, (uint64_t)number, 8);
    put_le(to + 16, (uint64_t)index, 4); /* first period */
    put_le(to + 20, (uint64_t)index, 4); /* period */
    put_le(to + 24, (uint64_t)index, 4); /* latest period */
    put_le(to + 28, (uint64_t)agreement, 2);
    put_le(to + 30, (uint64_t)pool_number, 2);
    to[32] = UTILIZATION;
    put_le(to + 33, (uint64_t)span_number, 4);
    memcpy(to + HEAD_BYTES, PyUnicode_1BYTE_DATA(values), value_bytes);

    /* and now the changes, in the Python method's order */
    if (set_slot(key_field[KEY_AVAILABLE], key, total) < 0 || set_slot(key_field[KEY_SOLD], key, sold_total) < 0 ||
        PyList_Append(inputs, event_id) < 0)
        goto error;
    if (index < closed_below) {
        PyObject *restated = get_slot(agreement_field[AGREEMENT_RESTATED], replay);
        if (restated == NULL)
            goto error;
        int added = PySet_Check(restated) ? PySet_Add(restated, index_object) : -1;
        if (added < 0 && !PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "plain(): an agreement's restated periods must be a set");
        Py_DECREF(restated);
        if (added < 0)
            goto error;
    }
    if (PyDict_SetItem(ids, event_id, record) < 0)
        goto error;
    status = 1;
    goto done;
error:
    status = -1;
done:
    Py_XDECREF(spans);
    Py_XDECREF(span);
    Py_XDECREF(found);
    Py_XDECREF(locked);
    Py_XDECREF(capacities);
    Py_XDECREF(keys);
    Py_XDECREF(key);
    Py_XDECREF(key_available);
    Py_XDECREF(total);
    Py_XDECREF(key_sold);
    Py_XDECREF(sold_total);
    Py_XDECREF(inputs);
    Py_XDECREF(closed);
    Py_XDECREF(agreement_number);
    Py_XDECREF(record);
    return status;
}

/* Engine._plain: the line's id when it was applied, None (nothing changed) otherwise.
 * `decide` is AgreementReplay.plain_utilization, called as decide(replay, line, order, number)
 * for a line the lane leaves. */
static PyObject *
plain(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "plain() takes the engine, the Python method, raw and number");
        return NULL;
    }
    if (engine_field[0] == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "plain(): the lane is not configured (see engine.replay.lane)");
        return NULL;
    }
    PyObject *engine = args[0], *decide = args[1], *raw = args[2], *number_object = args[3];
    PyObject *line = read_plain_utilization(module, raw);
    if (line == NULL || line == Py_None)
        return line;
    PyObject *result = NULL, *agreements = NULL, *ids = NULL, *lines = NULL, *replay = NULL, *order_object = NULL;
    PyObject *event_id = PyTuple_GET_ITEM(line, 0);
    if ((agreements = get_slot(engine_field[ENGINE_AGREEMENTS], engine)) == NULL ||
        (ids = get_slot(engine_field[ENGINE_IDS], engine)) == NULL ||
        (lines = get_slot(engine_field[ENGINE_LINES], engine)) == NULL)
        goto done;
    if (!PyDict_CheckExact(agreements) || !PyDict_CheckExact(ids)) {
        PyErr_SetString(PyExc_TypeError, "plain(): the engine's agreements and ids must be dicts");
        goto done;
    }
    replay = PyDict_GetItemWithError(agreements, PyTuple_GET_ITEM(line, 1));
    if (replay == NULL) {
        if (!PyErr_Occurred())
            result = Py_NewRef(Py_None);
        goto done;
    }
    Py_INCREF(replay); /* held while the Python method may run */
    int in_use = PyDict_Contains(ids, event_id);
    if (in_use < 0)
        goto done;
    if (in_use) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    if ((order_object = PyNumber_Add(lines, one)) == NULL)
        goto done;
    int ok = 1;
    long long order = integer(order_object, &ok), number = integer(number_object, &ok);
    int applied = ok ? apply_common(replay, line, order, number, ids) : 0;
    if (applied < 0)
        goto done;
    if (applied == 0) { /* the Python method decides, and may change state */
        PyObject *call[4] = {replay, line, order_object, number_object};
        PyObject *taken = PyObject_Vectorcall(decide, call, 4, NULL);
        if (taken == NULL)
            goto done;
        applied = PyObject_IsTrue(taken);
        Py_DECREF(taken);
        if (applied < 0)
            goto done;
    }
    if (!applied) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    if (set_slot(engine_field[ENGINE_LINES], engine, order_object) < 0)
        goto done;
    result = Py_NewRef(event_id);
done:
    Py_XDECREF(agreements);
    Py_XDECREF(ids);
    Py_XDECREF(lines);
    Py_XDECREF(replay);
    Py_XDECREF(order_object);
    Py_DECREF(line);
    return result;
}

/* Whether `given` holds the member descriptors of the slots `expected` names, in that order,
 * all of one class; 0 with an exception set if not. */
static int
same_slots(PyObject *given, const char **expected, Py_ssize_t size, const char *what)
{
    if (!PyTuple_CheckExact(given) || PyTuple_GET_SIZE(given) != size) {
        PyErr_Format(PyExc_TypeError, "configure(): expected %zd descriptors of %s's slots; got %R", size, what,
                     given);
        return 0;
    }
    PyTypeObject *owner = NULL;
    for (Py_ssize_t i = 0; i < size; i++) {
        PyObject *field = PyTuple_GET_ITEM(given, i);
        if (!PyObject_TypeCheck(field, &PyMemberDescr_Type)) {
            PyErr_Format(PyExc_TypeError, "configure(): expected the descriptor of %s's slot %s; got %R", what,
                         expected[i], field);
            return 0;
        }
        PyMemberDescrObject *descriptor = (PyMemberDescrObject *)field;
        if (PyUnicode_CompareWithASCIIString(descriptor->d_common.d_name, expected[i]) != 0 ||
            (owner != NULL && descriptor->d_common.d_type != owner)) {
            PyErr_Format(PyExc_RuntimeError,
                         "the compiled lane was built for another layout of %s (its slot %s expected, %R given); "
                         "rebuild it (pip install -e .)",
                         what, expected[i], field);
            return 0;
        }
        owner = descriptor->d_common.d_type;
    }
    return 1;
}

static void
keep(PyObject **kept, PyObject *given, Py_ssize_t size)
{
    for (Py_ssize_t i = 0; i < size; i++)
        Py_XSETREF(kept[i], Py_NewRef(PyTuple_GET_ITEM(given, i)));
}

static PyObject *
configure(PyObject *module, PyObject *args)
{
    PyObject *given[6], *engine_fields, *agreement_fields, *key_fields;
    if (!PyArg_ParseTuple(args, "OOOOOOOOO:configure", &given[0], &given[1], &given[2], &given[3], &given[4],
                          &given[5], &engine_fields, &agreement_fields, &key_fields))
        return NULL;
    if (!PyDict_CheckExact(given[2])) {
        PyErr_SetString(PyExc_TypeError, "configure(): the quantities must be a dict");
        return NULL;
    }
    /* All checked before any is kept, so that a refused call leaves the lane as it was. */
    if (!same_slots(engine_fields, engine_slots, ENGINE_FIELDS, "the engine") ||
        !same_slots(agreement_fields, agreement_slots, AGREEMENT_FIELDS, "an agreement") ||
        !same_slots(key_fields, key_slots, KEY_FIELDS, "a key"))
        return NULL;
    PyObject **shared[6] = {&loads, &decode_error, &quantities, &quantity, &zero, &exact_add};
    for (int i = 0; i < 6; i++)
        Py_XSETREF(*shared[i], Py_NewRef(given[i]));
    keep(engine_field, engine_fields, ENGINE_FIELDS);
    keep(agreement_field, agreement_fields, AGREEMENT_FIELDS);
    keep(key_field, key_fields, KEY_FIELDS);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"read_plain_utilization", read_plain_utilization, METH_O,
     "engine.events.reader.read_plain_utilization, compiled."},
    {"ids_apart", ids_apart, METH_O, "ids_apart(arrays): True when no value occurs in two of them."},
    {"route", route, METH_O, "route(raw): (agreement, id) of a flat line of strings written plainly, else None."},
    {"plain", (PyCFunction)(void (*)(void))plain, METH_FASTCALL,
     "plain(engine, decide, raw, number): Engine._plain, compiled; decide is AgreementReplay.plain_utilization."},
    {"configure", configure, METH_VARARGS,
     "configure(loads, decode_error, quantities, quantity, zero, exact_add, engine_fields, agreement_fields, "
     "key_fields): what the lane shares with Python, and the descriptors of the slots it reads and writes."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef lane_module = {
    PyModuleDef_HEAD_INIT, "engine.replay._lane", "The replay's plain lane, compiled (see _lane.c).", -1, methods,
};

PyMODINIT_FUNC
PyInit__lane(void)
{
    static const char *members[PLAIN_MEMBERS] = {"id", "type", "agreement", "pool", "start", "end",
                                                 "available_gpu_hours", "sold_gpu_hours"};
    for (int i = 0; i < PLAIN_MEMBERS; i++)
        if ((member[i] = PyUnicode_InternFromString(members[i])) == NULL)
            return NULL;
    if ((s_utilization = PyUnicode_InternFromString("utilization")) == NULL)
        return NULL;
    if ((one = PyLong_FromLong(1)) == NULL)
        return NULL;
    return PyModule_Create(&lane_module);
}
