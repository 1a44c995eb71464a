/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* A minimal streaming JSON writer: enough for the plan and the report. Strings that are not
 * valid UTF-8 (file names may be anything) have each stray byte written as the text
 * "\\xXX", so the output stays valid JSON and still names the bytes. */
typedef struct JsonWriter {
        FILE *f;
        unsigned depth;
        bool need_comma[64];
        bool pretty;
} JsonWriter;

void json_begin_object(JsonWriter *j, const char *key);
void json_end_object(JsonWriter *j);
void json_begin_array(JsonWriter *j, const char *key);
void json_end_array(JsonWriter *j);
void json_string(JsonWriter *j, const char *key, const char *value);  /* NULL: null */
void json_uint(JsonWriter *j, const char *key, uint64_t value);
void json_int(JsonWriter *j, const char *key, int64_t value);
void json_double(JsonWriter *j, const char *key, double value);
void json_bool(JsonWriter *j, const char *key, bool value);
void json_escape(FILE *f, const char *s);

/* Length of the valid UTF-8 sequence at s, or 0. */
size_t utf8_valid_len(const unsigned char *s);

/* Valid UTF-8 without control characters. */
bool text_is_printable(const char *s);
/* s for a terminal or a log line: control characters and bytes that are no UTF-8 as \xNN,
 * a backslash doubled, so that "\xff" in a name reads as "\\xff". */
char *text_escape(const char *s);
