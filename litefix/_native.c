/*
 * The loops litefix cannot afford in Python, each at memory speed here:
 *
 * - checksum, scan_frames: SQLite's WAL frame checksum chain. Every frame's checksum
 *   depends on the previous one, so the chain is walked word by word (~20 MB/s in Python).
 *   litefix.formats.walsum is the pure-Python twin used when this module could not be
 *   compiled; the tests check that both agree.
 * - crc64_iso, page_checksums, ltx_checksums: CRC-64/ISO page checksums (carry-less
 *   multiplication) of database pages and of LTX files, for comparing a database with its
 *   replica without restoring it.
 * - set_lz4: binds LZ4's own decompressor (from the lz4 package) for the LTX walk.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
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

/*
 * The LTX page checksum, CRC-64/ISO (Go's crc64.ISO: reflected 0xD800000000000000, init and
 * xorout all ones) of the big-endian page number followed by the page, with the top bit set.
 * Per page from Python it costs two calls and a slice; comparing a 1 GiB database with its
 * replica is 2 x 262,144 pages, so the loop over pages lives here (slicing-by-8 tables).
 * fastcrc is the reference; the tests check both agree.
 */
#define CRC64_POLY 0xD800000000000000ULL
#define CHECKSUM_FLAG 0x8000000000000000ULL
static uint64_t crc_table[8][256];

static void crc_init(void) {
    for (int i = 0; i < 256; i++) {
        uint64_t c = (uint64_t)i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ CRC64_POLY : c >> 1;
        crc_table[0][i] = c;
    }
    for (int i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++) crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

static uint64_t crc_update(uint64_t crc, const unsigned char *p, Py_ssize_t n) {
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w = __builtin_bswap64(w);
#endif
        crc ^= w;
        crc = crc_table[7][crc & 0xff] ^ crc_table[6][(crc >> 8) & 0xff] ^ crc_table[5][(crc >> 16) & 0xff] ^
              crc_table[4][(crc >> 24) & 0xff] ^ crc_table[3][(crc >> 32) & 0xff] ^
              crc_table[2][(crc >> 40) & 0xff] ^ crc_table[1][(crc >> 48) & 0xff] ^ crc_table[0][crc >> 56];
        p += 8;
        n -= 8;
    }
    while (n--) crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

/*
 * The same CRC by carry-less multiplication (Intel's folding method): 16 bytes per step instead
 * of 8, about four times the table's speed. The fold constants are x^191 and x^127 mod P,
 * bit-reflected; the last 16 bytes go through the table. Used when the CPU has PCLMULQDQ.
 */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_FOLD 1
static int use_fold = 0;

#define FOLD(x, k, data) \
    _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11)), data)
#define LOAD(p) _mm_loadu_si128((const __m128i *)(p))
#define KEYS(hi, lo) _mm_set_epi64x((long long)(hi), (long long)(lo))

__attribute__((target("pclmul,sse2"))) static uint64_t crc_fold(uint64_t crc, const unsigned char *p, Py_ssize_t n) {
    /* n is a multiple of 16 and at least 32. Four independent lanes over 64-byte blocks hide the
     * multiplier's latency; they are folded into one at the end (constants x^(d+63), x^(d-1) mod P
     * for a fold over d bits, bit-reflected), then 16-byte steps finish what is left. */
    __m128i x = _mm_xor_si128(LOAD(p), _mm_set_epi64x(0, (long long)crc));
    Py_ssize_t off = 16;
    if (n >= 128) {
        const __m128i k512 = KEYS(0xb100010100000001ULL, 0x01b001b1b0000001ULL);
        __m128i x1 = LOAD(p + 16), x2 = LOAD(p + 32), x3 = LOAD(p + 48);
        for (off = 64; off + 64 <= n; off += 64) {
            x = FOLD(x, k512, LOAD(p + off));
            x1 = FOLD(x1, k512, LOAD(p + off + 16));
            x2 = FOLD(x2, k512, LOAD(p + off + 32));
            x3 = FOLD(x3, k512, LOAD(p + off + 48));
        }
        x = FOLD(x, KEYS(0xe145150000000001ULL, 0x76db6c7000000001ULL),
                 FOLD(x1, KEYS(0xa011000000000001ULL, 0x1b1ab00000000001ULL),
                      FOLD(x2, KEYS(0xf500000000000001ULL, 0x6b70000000000001ULL), x3)));
    }
    const __m128i k128 = KEYS(0xf500000000000001ULL, 0x6b70000000000001ULL);
    for (; off < n; off += 16) x = FOLD(x, k128, LOAD(p + off));
    unsigned char last[16];
    _mm_storeu_si128((__m128i *)last, x);
    return crc_update(0, last, 16);
}
#endif

static uint64_t crc_any(uint64_t crc, const unsigned char *p, Py_ssize_t n) {
#ifdef HAVE_FOLD
    if (use_fold && n >= 32 && n % 16 == 0) return crc_fold(crc, p, n);
#endif
    return crc_update(crc, p, n);
}

static uint64_t page_sum(uint32_t pgno, const unsigned char *page, Py_ssize_t size) {
    unsigned char be[4] = {(unsigned char)(pgno >> 24), (unsigned char)(pgno >> 16), (unsigned char)(pgno >> 8),
                           (unsigned char)pgno};
    uint64_t crc = crc_update(~0ULL, be, 4);
    return CHECKSUM_FLAG | ~crc_any(crc, page, size);
}

/* crc64_iso(data, initial=0) -> int, as fastcrc.crc64.go_iso: for the tests, and for either path */
static PyObject *py_crc64_iso(PyObject *self, PyObject *args) {
    Py_buffer buf;
    unsigned long long initial = 0;
    int fold = 1;
    if (!PyArg_ParseTuple(args, "y*|Kp", &buf, &initial, &fold)) return NULL;
    uint64_t crc = ~(uint64_t)initial;
    crc = fold ? crc_any(crc, buf.buf, buf.len) : crc_update(crc, buf.buf, buf.len);
    PyBuffer_Release(&buf);
    return PyLong_FromUnsignedLongLong(~crc);
}

/* page_checksums(data, page_size, first_pgno, lock_pgno) -> bytes of native u64, one per whole page (0 for the lock page) */
static PyObject *py_page_checksums(PyObject *self, PyObject *args) {
    Py_buffer buf;
    Py_ssize_t page_size;
    unsigned long long first, lock;
    if (!PyArg_ParseTuple(args, "y*nKK", &buf, &page_size, &first, &lock)) return NULL;
    if (page_size <= 0) {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_ValueError, "page_size must be positive");
        return NULL;
    }
    Py_ssize_t n = buf.len / page_size;
    PyObject *out = PyBytes_FromStringAndSize(NULL, n * 8);
    if (!out) {
        PyBuffer_Release(&buf);
        return NULL;
    }
    uint64_t *sums = (uint64_t *)PyBytes_AS_STRING(out);
    const unsigned char *p = (const unsigned char *)buf.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t pgno = first + (uint64_t)i;
        sums[i] = pgno == lock ? 0 : page_sum((uint32_t)pgno, p + i * page_size, page_size);
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&buf);
    return out;
}

/* LZ4 block decompression comes from the lz4 package's own extension (or liblz4), found by dlsym. */
typedef int (*lz4_decompress_fn)(const char *src, char *dst, int compressed, int capacity);
static lz4_decompress_fn lz4_decompress = NULL;

static PyObject *py_set_lz4(PyObject *self, PyObject *args) {
    const char *path;
    if (!PyArg_ParseTuple(args, "s", &path)) return NULL;
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib) lz4_decompress = (lz4_decompress_fn)dlsym(lib, "LZ4_decompress_safe");
    return PyBool_FromLong(lz4_decompress != NULL);
}

static inline uint32_t be32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/*
 * ltx_checksums(data, page_size, file_crc, verify) -> (consumed, pgnos, sums, state, file_crc)
 * Walks LTX page frames (pgno u32, flags u16, size u32, LZ4 block) from the start of data,
 * decompressing each page into a scratch buffer and checksumming it. Stops at the end marker
 * (state 1), at a frame cut by the end of data (state 0: read more and call again), at a page
 * written as an LZ4 frame by ltx < 0.5.2 (state 2: not handled here), or at damage (state 3).
 * pgnos are native u32, sums native u64. file_crc carries the LTX file checksum across calls
 * (in the form fastcrc's `initial` takes): with `verify`, page headers and uncompressed pages are
 * added to it (a second CRC pass over every page, so a comparison leaves it off).
 */
static PyObject *py_ltx_checksums(PyObject *self, PyObject *args) {
    Py_buffer buf;
    Py_ssize_t page_size;
    unsigned long long file_crc_in;
    int verify = 1;
    if (!PyArg_ParseTuple(args, "y*nK|p", &buf, &page_size, &file_crc_in, &verify)) return NULL;
    uint64_t file_crc = ~(uint64_t)file_crc_in;
    if (!lz4_decompress) {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_RuntimeError, "no LZ4 decompressor: call set_lz4 first");
        return NULL;
    }
    Py_ssize_t cap = buf.len / 11 + 1; /* a frame is at least 11 bytes */
    uint32_t *pgnos = malloc(cap * sizeof(uint32_t));
    uint64_t *sums = malloc(cap * sizeof(uint64_t));
    unsigned char *page = malloc(page_size);
    if (!pgnos || !sums || !page) {
        free(pgnos);
        free(sums);
        free(page);
        PyBuffer_Release(&buf);
        return PyErr_NoMemory();
    }
    const unsigned char *p = (const unsigned char *)buf.buf;
    Py_ssize_t off = 0, n = 0;
    int state = 0;
    Py_BEGIN_ALLOW_THREADS
    while (off + 6 <= buf.len) {
        uint32_t pgno = be32(p + off);
        unsigned flags = ((unsigned)p[off + 4] << 8) | p[off + 5];
        if (pgno == 0 && flags == 0) {
            if (verify) file_crc = crc_update(file_crc, p + off, 6);
            off += 6;
            state = 1;
            break;
        }
        if (!(flags & 1)) {
            state = 2;
            break;
        }
        if (off + 10 > buf.len) break;
        uint32_t size = be32(p + off + 6);
        if (size == 0 || size > (uint32_t)(page_size + page_size / 255 + 16)) {
            state = 3;
            break;
        }
        if (off + 10 + (Py_ssize_t)size > buf.len) break;
        int got = lz4_decompress((const char *)p + off + 10, (char *)page, (int)size, (int)page_size);
        if (got != page_size) {
            state = 3;
            break;
        }
        if (verify) {
            file_crc = crc_update(file_crc, p + off, 10);
            file_crc = crc_any(file_crc, page, page_size);
        }
        pgnos[n] = pgno;
        sums[n] = page_sum(pgno, page, page_size);
        n++;
        off += 10 + size;
    }
    Py_END_ALLOW_THREADS
    free(page);
    PyObject *res = Py_BuildValue("(ny#y#iK)", off, (const char *)pgnos, n * (Py_ssize_t)sizeof(uint32_t),
                                  (const char *)sums, n * (Py_ssize_t)sizeof(uint64_t), state,
                                  (unsigned long long)~file_crc);
    free(pgnos);
    free(sums);
    PyBuffer_Release(&buf);
    return res;
}

static PyMethodDef methods[] = {
    {"checksum", py_checksum, METH_VARARGS, "SQLite WAL checksum of data, continuing from (s0, s1)."},
    {"scan_frames", py_scan_frames, METH_VARARGS, "Count leading valid WAL frames in data."},
    {"page_checksums", py_page_checksums, METH_VARARGS, "LTX page checksums of whole pages in data."},
    {"set_lz4", py_set_lz4, METH_VARARGS, "Load LZ4_decompress_safe from a shared object."},
    {"ltx_checksums", py_ltx_checksums, METH_VARARGS, "Checksums of the LTX page frames in data."},
    {"crc64_iso", py_crc64_iso, METH_VARARGS, "CRC-64/ISO of data, continuing from initial."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods};

PyMODINIT_FUNC PyInit__native(void) {
    crc_init();
#ifdef HAVE_FOLD
    __builtin_cpu_init();
    use_fold = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse2");
#endif
    return PyModule_Create(&module);
}
