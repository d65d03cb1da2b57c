/*
 * The one loop litefix cannot afford in Python: SQLite's WAL frame checksum chain.
 *
 * Every WAL frame's checksum depends on the previous one, so the chain must be
 * walked word by word; in Python that runs at ~20 MB/s, here at memory speed.
 * litefix.formats.walsum holds the pure-Python twin used when this module could
 * not be compiled, and the tests check that both agree.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t get_be32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline uint32_t get_le32(const unsigned char *p) {
    return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | (uint32_t)p[0];
}

static void chain(const unsigned char *p, Py_ssize_t n, int big_endian, uint32_t *s0, uint32_t *s1) {
    uint32_t a = *s0, b = *s1;
    Py_ssize_t i;
    if (big_endian) {
        for (i = 0; i + 8 <= n; i += 8) {
            a += get_be32(p + i) + b;
            b += get_be32(p + i + 4) + a;
        }
    } else {
        for (i = 0; i + 8 <= n; i += 8) {
            a += get_le32(p + i) + b;
            b += get_le32(p + i + 4) + a;
        }
    }
    *s0 = a;
    *s1 = b;
}

/* checksum(data, s0, s1, big_endian) -> (s0, s1) */
static PyObject *py_checksum(PyObject *self, PyObject *args) {
    Py_buffer buf;
    unsigned int s0, s1;
    int big_endian;
    if (!PyArg_ParseTuple(args, "y*IIp", &buf, &s0, &s1, &big_endian)) return NULL;
    uint32_t a = s0, b = s1;
    Py_BEGIN_ALLOW_THREADS
    chain((const unsigned char *)buf.buf, buf.len, big_endian, &a, &b);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&buf);
    return Py_BuildValue("(II)", a, b);
}

/*
 * scan_frames(data, page_size, salt1, salt2, s0, s1, big_endian) -> (n, s0, s1)
 * Walks whole frames from the start of data and stops at the first one SQLite
 * would reject: salts differ from the header's, checksum breaks the chain, or
 * page number 0. Returns how many frames were valid and the chain after them.
 */
static PyObject *py_scan_frames(PyObject *self, PyObject *args) {
    Py_buffer buf;
    Py_ssize_t page_size;
    unsigned int salt1, salt2, s0, s1;
    int big_endian;
    if (!PyArg_ParseTuple(args, "y*nIIIIp", &buf, &page_size, &salt1, &salt2, &s0, &s1, &big_endian))
        return NULL;
    if (page_size <= 0 || page_size % 8 != 0) {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_ValueError, "page_size must be a positive multiple of 8");
        return NULL;
    }
    const unsigned char *p = (const unsigned char *)buf.buf;
    Py_ssize_t frame = 24 + page_size, off = 0, n = 0;
    uint32_t a = s0, b = s1;
    Py_BEGIN_ALLOW_THREADS
    for (; off + frame <= buf.len; off += frame) {
        const unsigned char *h = p + off;
        if (get_be32(h + 8) != salt1 || get_be32(h + 12) != salt2) break;
        if (get_be32(h) == 0) break;
        uint32_t x = a, y = b;
        chain(h, 8, big_endian, &x, &y);
        chain(h + 24, page_size, big_endian, &x, &y);
        if (x != get_be32(h + 16) || y != get_be32(h + 20)) break;
        a = x;
        b = y;
        n++;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&buf);
    return Py_BuildValue("(nII)", n, a, b);
}

static PyMethodDef methods[] = {
    {"checksum", py_checksum, METH_VARARGS, "SQLite WAL checksum of data, continuing from (s0, s1)."},
    {"scan_frames", py_scan_frames, METH_VARARGS, "Count leading valid WAL frames in data."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
