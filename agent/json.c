/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>

#include "json.h"
#include "macro.h"

size_t utf8_valid_len(const unsigned char *s) {
        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                return (s[1] & 0xc0) == 0x80 ? 2 : 0;
        if (s[0] >= 0xe0 && s[0] <= 0xef) {
                if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
                        return 0;
                if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f))
                        return 0;
                return 3;
        }
        if (s[0] >= 0xf0 && s[0] <= 0xf4) {
                if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
                        return 0;
                if ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
                        return 0;
                return 4;
        }
        return 0;
}

bool text_is_printable(const char *str) {
        for (const unsigned char *s = (const unsigned char *) str; *s; ) {
                size_t n = utf8_valid_len(s);
                if (n == 0 || (n == 1 && (*s < 0x20 || *s == 0x7f)))
                        return false;
                s += n;
        }
        return true;
}

char *text_escape(const char *str) {
        char *r = xmalloc(strlen(str) * 4 + 1), *o = r;

        for (const unsigned char *s = (const unsigned char *) str; *s; ) {
                size_t n = utf8_valid_len(s);
                if (n == 0 || (n == 1 && (*s < 0x20 || *s == 0x7f))) {
                        o += sprintf(o, "\\x%02x", *s++);
                        continue;
                }
                if (*s == '\\')
                        *o++ = '\\';
                memcpy(o, s, n);
                o += n;
                s += n;
        }
        *o = 0;
        return r;
}

void json_escape(FILE *f, const char *str) {
        const unsigned char *s = (const unsigned char *) str;

        fputc('"', f);
        while (*s) {
                size_t n = utf8_valid_len(s);

                /* A byte that is no UTF-8 becomes a lone surrogate, U+DC80 to U+DCFF, as
                 * Python's "surrogateescape" does: it cannot be mistaken for text. */
                if (n == 0) {
                        fprintf(f, "\\udc%02x", *s++);
                        continue;
                }
                if (n > 1) {
                        fwrite(s, 1, n, f);
                        s += n;
                        continue;
                }
                switch (*s) {
                case '"':  fputs("\\\"", f); break;
                case '\\': fputs("\\\\", f); break;
                case '\n': fputs("\\n", f); break;
                case '\t': fputs("\\t", f); break;
                case '\r': fputs("\\r", f); break;
                default:
                        if (*s < 0x20 || *s == 0x7f)
                                fprintf(f, "\\u%04x", *s);
                        else
                                fputc(*s, f);
                }
                s++;
        }
        fputc('"', f);
}

static void prefix(JsonWriter *j, const char *key) {
        if (j->depth > 0 && j->need_comma[j->depth])
                fputc(',', j->f);
        if (j->pretty && j->depth > 0) {
                fputc('\n', j->f);
                for (unsigned i = 0; i < j->depth; i++)
                        fputs("  ", j->f);
        }
        if (j->depth < ELEMENTSOF(j->need_comma))
                j->need_comma[j->depth] = true;
        if (key) {
                json_escape(j->f, key);
                fputs(j->pretty ? ": " : ":", j->f);
        }
}

static void open_(JsonWriter *j, const char *key, char c) {
        prefix(j, key);
        fputc(c, j->f);
        j->depth++;
        if (j->depth < ELEMENTSOF(j->need_comma))
                j->need_comma[j->depth] = false;
}

static void close_(JsonWriter *j, char c) {
        bool had = j->depth < ELEMENTSOF(j->need_comma) && j->need_comma[j->depth];
        j->depth--;
        if (j->pretty && had) {
                fputc('\n', j->f);
                for (unsigned i = 0; i < j->depth; i++)
                        fputs("  ", j->f);
        }
        fputc(c, j->f);
        if (j->depth == 0)
                fputc('\n', j->f);
}

void json_begin_object(JsonWriter *j, const char *key) {
        open_(j, key, '{');
}

void json_end_object(JsonWriter *j) {
        close_(j, '}');
}

void json_begin_array(JsonWriter *j, const char *key) {
        open_(j, key, '[');
}

void json_end_array(JsonWriter *j) {
        close_(j, ']');
}

void json_string(JsonWriter *j, const char *key, const char *value) {
        prefix(j, key);
        if (value)
                json_escape(j->f, value);
        else
                fputs("null", j->f);
}

void json_uint(JsonWriter *j, const char *key, uint64_t value) {
        prefix(j, key);
        fprintf(j->f, "%" PRIu64, value);
}

void json_int(JsonWriter *j, const char *key, int64_t value) {
        prefix(j, key);
        fprintf(j->f, "%" PRId64, value);
}

void json_double(JsonWriter *j, const char *key, double value) {
        prefix(j, key);
        fprintf(j->f, "%.3f", value);
}

void json_bool(JsonWriter *j, const char *key, bool value) {
        prefix(j, key);
        fputs(value ? "true" : "false", j->f);
}
