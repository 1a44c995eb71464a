/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"
#include "macro.h"
#include "strv.h"

/* The kernel's isspace() for command lines: the C locale's. */
static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

char **cmdline_split(const char *line) {
        char **words = xcalloc(1, sizeof(char *));
        size_t n = 0;

        for (const char *p = strempty(line); *p; ) {
                const char *start;
                bool quoted = false;

                while (is_blank(*p))
                        p++;
                if (!*p)
                        break;
                for (start = p; *p && (quoted || !is_blank(*p)); p++)
                        if (*p == '"')
                                quoted = !quoted;
                strv_push_counted(&words, &n, xstrndup(start, p - start));
        }
        return words;
}

char *cmdline_join(char * const *words) {
        size_t len = 1;
        char *s, *p;

        STRV_FOREACH(w, words)
                len += strlen(*w) + 1;
        p = s = xmalloc(len);
        STRV_FOREACH(w, words) {
                if (p != s)
                        *p++ = ' ';
                p = stpcpy(p, *w);
        }
        *p = 0;
        return s;
}

/* The key of a word: from after an opening double quote to the first '=' (or the end, less a
 * closing quote). */
static const char *word_key(const char *w, size_t *ret_len) {
        bool quoted = w[0] == '"';
        const char *k = w + quoted;
        size_t n = strcspn(k, "=");

        if (!k[n] && quoted && n > 0 && k[n - 1] == '"')
                n--;
        *ret_len = n;
        return k;
}

/* The value: after the first '=', NULL for a flag. */
static const char *word_value(const char *w) {
        const char *eq = strchr(w, '=');
        return eq ? eq + 1 : NULL;
}

static bool keys_equal(const char *a, size_t na, const char *b, size_t nb) {
        if (na != nb)
                return false;
        for (size_t i = 0; i < na; i++)
                if ((a[i] == '-' ? '_' : a[i]) != (b[i] == '-' ? '_' : b[i]))
                        return false;
        return true;
}

static bool key_is(const char *w, const char *key) {
        size_t n;
        const char *k = word_key(w, &n);

        return keys_equal(k, n, key, strlen(key));
}

bool cmdline_same_key(const char *a, const char *b) {
        size_t na, nb;
        const char *ka = word_key(a, &na), *kb = word_key(b, &nb);

        return keys_equal(ka, na, kb, nb);
}

bool cmdline_same_word(const char *a, const char *b) {
        const char *va = word_value(a), *vb = word_value(b);

        if (!cmdline_same_key(a, b) || !va != !vb)
                return false;
        return !va || streq(va, vb);
}

/* hugepagesz=, hugepages= and default_hugepagesz= mean something only together, in order. */
static bool in_hugepage_group(const char *w) {
        return key_is(w, "hugepagesz") || key_is(w, "hugepages") || key_is(w, "default_hugepagesz");
}

char **cmdline_replaced_keys(char * const *add) {
        static const char * const group[] = { "hugepagesz", "hugepages", "default_hugepagesz" };
        char **keys = xcalloc(1, sizeof(char *));

        STRV_FOREACH(w, add) {
                if (in_hugepage_group(*w)) {
                        for (size_t i = 0; i < ELEMENTSOF(group); i++)
                                if (!strv_contains(keys, group[i]))
                                        strv_extend(&keys, group[i]);
                        continue;
                }
                _cleanup_free_ char *key = xstrndup(*w, strcspn(*w, "="));
                if (!strv_contains(keys, key))
                        strv_extend(&keys, key);
        }
        return keys;
}

/* Words that an edit handles as one key. */
static bool same_slot(const char *a, const char *b) {
        return (in_hugepage_group(a) && in_hugepage_group(b)) || cmdline_same_key(a, b);
}

bool cmdline_key_protected(const char *word) {
        static const char * const keys[] = {
                "root", "rootfstype", "rootflags", "ro", "rw", "init", "initrd", "BOOT_IMAGE",
        };

        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (key_is(word, keys[i]))
                        return true;
        return false;
}

void cmdline_edit_done(CmdlineEdit *e) {
        if (!e)
                return;
        strv_free(e->added);
        strv_free(e->removed);
        *e = (CmdlineEdit) {};
}

/* The words of add that one key (or the hugepage group) gets, not owned. */
typedef struct Slot {
        const char **want;
        size_t n_want;
        bool changed;
        bool placed;
} Slot;

typedef struct Edit {
        Slot *slots;
        size_t n_slots;
        char **out, **added, **removed;
        size_t n_out, n_added, n_removed;
} Edit;

static Slot *slot_of(Edit *ed, const char *w) {
        for (size_t i = 0; i < ed->n_slots; i++)
                if (same_slot(ed->slots[i].want[0], w))
                        return &ed->slots[i];
        return NULL;
}

static void slots_build(Edit *ed, char * const *add) {
        size_t n = strv_length(add);

        ed->slots = xcalloc(n + 1, sizeof(Slot));
        for (size_t i = 0; i < n; i++) {
                Slot *s = slot_of(ed, add[i]);

                if (!s) {
                        s = &ed->slots[ed->n_slots++];
                        s->want = xcalloc(n, sizeof(char *));
                } else if (!in_hugepage_group(add[i]) && strv_contains((char **) s->want, add[i]))
                        continue;
                s->want[s->n_want++] = add[i];
        }
}

/* A slot changes unless the line has exactly its words, in its order. */
static void slots_compare(Edit *ed, char * const *words) {
        for (size_t i = 0; i < ed->n_slots; i++) {
                Slot *s = &ed->slots[i];
                size_t k = 0;

                STRV_FOREACH(w, words) {
                        if (!same_slot(s->want[0], *w))
                                continue;
                        if (k >= s->n_want || !cmdline_same_word(s->want[k], *w)) {
                                s->changed = true;
                                break;
                        }
                        k++;
                }
                if (k != s->n_want)
                        s->changed = true;
        }
}

static void slot_place(Edit *ed, Slot *s) {
        for (size_t k = 0; k < s->n_want; k++) {
                strv_push_counted(&ed->out, &ed->n_out, xstrdup(s->want[k]));
                strv_push_counted(&ed->added, &ed->n_added, xstrdup(s->want[k]));
        }
        s->placed = true;
}

static bool removed_by(char * const *remove, const char *w) {
        STRV_FOREACH(r, remove)
                if (word_value(*r) ? cmdline_same_word(*r, w) : cmdline_same_key(*r, w))
                        return true;
        return false;
}

char **cmdline_apply(char * const *words, char * const *add, char * const *remove, CmdlineEdit *e) {
        Edit ed = {};

        slots_build(&ed, add);
        slots_compare(&ed, words);
        ed.out = xcalloc(1, sizeof(char *));
        ed.added = xcalloc(1, sizeof(char *));
        ed.removed = xcalloc(1, sizeof(char *));
        STRV_FOREACH(w, words) {
                Slot *s = slot_of(&ed, *w);

                if (s && s->changed && !s->placed)
                        slot_place(&ed, s);
                if ((s && s->changed) || (!s && removed_by(remove, *w)))
                        strv_push_counted(&ed.removed, &ed.n_removed, xstrdup(*w));
                else
                        strv_push_counted(&ed.out, &ed.n_out, xstrdup(*w));
        }
        for (size_t i = 0; i < ed.n_slots; i++) {
                if (ed.slots[i].changed && !ed.slots[i].placed)
                        slot_place(&ed, &ed.slots[i]);
                free(ed.slots[i].want);
        }
        free(ed.slots);
        if (e)
                *e = (CmdlineEdit) { .added = ed.added, .removed = ed.removed };
        else {
                strv_free(ed.added);
                strv_free(ed.removed);
        }
        return ed.out;
}

/* Whether a removed word may come back into words[0..n): not over a value set since (a flag
 * of the same key sets none), nor twice. */
static bool restorable(char * const *words, size_t n, const char *r) {
        for (size_t i = 0; i < n; i++)
                if (word_value(r) ? word_value(words[i]) && same_slot(words[i], r) : cmdline_same_word(words[i], r))
                        return false;
        return true;
}

char **cmdline_undo(char * const *words, char * const *added, char * const *removed) {
        size_t n = strv_length(words), n_out = 0, kept;
        _cleanup_free_ bool *gone = xcalloc(n + 1, sizeof(bool));
        char **out = xcalloc(1, sizeof(char *));

        STRV_FOREACH(a, added)
                for (size_t i = 0; i < n; i++)
                        if (!gone[i] && cmdline_same_word(words[i], *a)) {
                                gone[i] = true;
                                break;
                        }
        for (size_t i = 0; i < n; i++)
                if (!gone[i])
                        strv_push_counted(&out, &n_out, xstrdup(words[i]));
        kept = n_out;
        STRV_FOREACH(r, removed)
                if (restorable(out, kept, *r))
                        strv_push_counted(&out, &n_out, xstrdup(*r));
        return out;
}

/* The kernel's memparse(): a number (base as strtoull's 0) and an optional K/M/G/T/P/E. */
static int memparse(const char *s, const char **end, uint64_t *ret) {
        static const char suffixes[] = "KMGTPE";
        const char *sfx;
        char *e;
        uint64_t v;

        if (!isdigit((unsigned char) s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &e, 0);
        if (errno != 0)
                return -EINVAL;
        if (*e && (sfx = strchr(suffixes, toupper((unsigned char) *e)))) {
                unsigned shift = 10 * (unsigned) (sfx - suffixes + 1);
                if (v > (UINT64_MAX >> shift))
                        return -EINVAL;
                v <<= shift;
                e++;
        }
        *end = e;
        *ret = v;
        return 0;
}

static int parse_size(const char *s, uint64_t *ret) {
        const char *end;

        if (memparse(s, &end, ret) < 0 || *end)
                return -EINVAL;
        return 0;
}

static int parse_count(const char *s, const char **end, uint64_t *ret) {
        char *e;

        if (!isdigit((unsigned char) s[0]))
                return -EINVAL;
        errno = 0;
        *ret = strtoull(s, &e, 10);
        *end = e;
        return errno != 0 ? -EINVAL : 0;
}

/* A word's value as the kernel hands it to the parameter: without its double quotes. */
static char *value_unquoted(const char *w) {
        const char *v = word_value(w);
        bool quoted = w[0] == '"' || v[0] == '"';
        char *s = xstrdup(v + (v[0] == '"'));
        size_t n = strlen(s);

        if (quoted && n > 0 && s[n - 1] == '"')
                s[n - 1] = 0;
        return s;
}

/* hugepages=N or hugepages=NODE:N[,NODE:N...] */
static int parse_hugepages(const char *v, uint64_t *ret) {
        uint64_t sum = 0, n, node;
        const char *p = v;

        if (!strchr(v, ':'))
                return parse_count(v, &p, ret) < 0 || *p ? -EINVAL : 0;
        for (;;) {
                if (parse_count(p, &p, &node) < 0 || *p != ':' || parse_count(p + 1, &p, &n) < 0 ||
                    __builtin_add_overflow(sum, n, &sum))
                        return -EINVAL;
                if (!*p)
                        break;
                if (*p++ != ',')
                        return -EINVAL;
        }
        *ret = sum;
        return 0;
}

/* crashkernel=RANGE:SIZE[,RANGE:SIZE...][@OFFSET]: the size of the range mem_total is in. */
static int parse_crash_ranges(const char *p, uint64_t mem_total, uint64_t *ret) {
        uint64_t start, end, size, found = 0;
        bool matched = false;

        for (;;) {
                if (memparse(p, &p, &start) < 0 || *p++ != '-')
                        return -EINVAL;
                end = UINT64_MAX;
                if (*p != ':' && (memparse(p, &p, &end) < 0 || end <= start))
                        return -EINVAL;
                if (*p++ != ':' || memparse(p, &p, &size) < 0)
                        return -EINVAL;
                if (!matched && mem_total >= start && (end == UINT64_MAX || mem_total < end)) {
                        found = size;
                        matched = true;
                }
                if (*p != ',')
                        break;
                p++;
        }
        if (*p == '@' && parse_size(p + 1, &start) < 0)
                return -EINVAL;
        if (*p && *p != '@')
                return -EINVAL;
        *ret = found;
        return 0;
}

enum { CRASH_PLAIN, CRASH_HIGH, CRASH_LOW, CRASH_CMA, _CRASH_MAX };

static int parse_crashkernel(const char *v, uint64_t mem_total, int *ret_kind, uint64_t *ret) {
        static const char * const suffixes[_CRASH_MAX] = { NULL, ",high", ",low", ",cma" };
        _cleanup_free_ char *body = NULL;
        const char *end;
        uint64_t offset;

        for (int k = CRASH_HIGH; k < _CRASH_MAX; k++)
                if (endswith(v, suffixes[k])) {
                        *ret_kind = k;
                        body = xstrndup(v, strlen(v) - strlen(suffixes[k]));
                        return parse_size(body, ret);
                }
        *ret_kind = CRASH_PLAIN;
        if (strchr(v, ':'))
                return parse_crash_ranges(v, mem_total, ret);
        if (memparse(v, &end, ret) < 0)
                return -EINVAL;
        if (*end == '@')
                return parse_size(end + 1, &offset);
        return *end ? -EINVAL : 0;
}

typedef struct Reserve {
        uint64_t mem_total, default_size, page_size, pages;
        bool sized, plain_crash;
        uint64_t crash[_CRASH_MAX];
} Reserve;

static int reserve_word(Reserve *r, const char *w) {
        _cleanup_free_ char *v = NULL;
        uint64_t n, bytes;
        int kind;

        if (!word_value(w))
                return 0;
        v = value_unquoted(w);
        if (key_is(w, "hugepagesz")) {
                r->sized = true;
                return parse_size(v, &r->page_size);
        }
        if (key_is(w, "hugepages")) {
                if (parse_hugepages(v, &n) < 0 ||
                    __builtin_mul_overflow(n, r->sized ? r->page_size : r->default_size, &bytes) ||
                    __builtin_add_overflow(r->pages, bytes, &r->pages))
                        return -EINVAL;
                return 0;
        }
        if (key_is(w, "crashkernel")) {
                if (parse_crashkernel(v, r->mem_total, &kind, &n) < 0)
                        return -EINVAL;
                r->crash[kind] = n;  /* the last of each kind wins */
                r->plain_crash = r->plain_crash || kind == CRASH_PLAIN;
        }
        return 0;
}

static int reserve_default_size(Reserve *r, char * const *words, const char **ret_word) {
        STRV_FOREACH(w, words)
                if (key_is(*w, "default_hugepagesz") && word_value(*w)) {
                        _cleanup_free_ char *v = value_unquoted(*w);

                        if (parse_size(v, &r->default_size) < 0) {
                                *ret_word = *w;
                                return -EINVAL;
                        }
                        break;  /* the kernel ignores the others */
                }
        return 0;
}

int cmdline_reserved_bytes(char * const *words, uint64_t mem_total, uint64_t hugepage_size, uint64_t *ret, const char **ret_word) {
        Reserve r = { .mem_total = mem_total, .default_size = hugepage_size ?: 2ULL << 20 };
        uint64_t total, crash;
        int k;

        if ((k = reserve_default_size(&r, words, ret_word)) < 0)
                return k;
        STRV_FOREACH(w, words)
                if (reserve_word(&r, *w) < 0) {
                        *ret_word = *w;
                        return -EINVAL;
                }
        /* A plain crashkernel= makes the kernel ignore ,high and ,low. */
        if (r.plain_crash)
                crash = r.crash[CRASH_PLAIN];
        else if (__builtin_add_overflow(r.crash[CRASH_HIGH], r.crash[CRASH_LOW], &crash))
                crash = UINT64_MAX;
        if (__builtin_add_overflow(crash, r.crash[CRASH_CMA], &crash) || __builtin_add_overflow(r.pages, crash, &total))
                total = UINT64_MAX;
        *ret = total;
        return 0;
}

uint64_t cmdline_memory_floor(uint64_t mem_total) {
        uint64_t floor = MAX(mem_total / 4, mem_total < (4ULL << 30) ? (1ULL << 30) : (2ULL << 30));

        return MIN(floor, mem_total);
}

/* A string that grows. */
typedef struct Buf {
        char *s;
        size_t n, cap;
} Buf;

static void buf_add(Buf *b, const char *s, size_t n) {
        if (b->n + n + 1 > b->cap) {
                b->cap = MAX(b->cap * 2, b->n + n + 1);
                b->s = xrealloc(b->s, b->cap);
        }
        memcpy(b->s + b->n, s, n);
        b->n += n;
        b->s[b->n] = 0;
}

static char *buf_steal(Buf *b) {
        if (!b->s)
                buf_add(b, "", 0);
        return TAKE_PTR(b->s);
}

/* One logical line of a shell file: its continuation lines joined, its comment taken out. */
typedef struct ShLine {
        char *text;
        const char *start, *end;   /* in the file: its first character, its final newline (or the end) */
        unsigned number;           /* 1-based, of its first line */
} ShLine;

static bool sh_word_start(const Buf *b) {
        return b->n == 0 || strchr(" \t;&|()", b->s[b->n - 1]);
}

/* Reads the logical line at *p and moves *p past it; *line counts the file's lines. */
static void sh_next_line(const char **p, unsigned *line, ShLine *ret) {
        const char *s = *p;
        Buf b = {};
        char quote = 0;

        *ret = (ShLine) { .start = s, .number = *line };
        for (; *s && (quote || *s != '\n'); s++) {
                if (*s == '\n')
                        (*line)++;
                if (quote == '\'') {
                        if (*s == '\'')
                                quote = 0;
                } else if (*s == '\\' && s[1] == '\n') {
                        s++;
                        (*line)++;
                        continue;
                } else if (*s == '\\' && s[1])
                        buf_add(&b, s++, 1);
                else if (quote == '"') {
                        if (*s == '"')
                                quote = 0;
                } else if (*s == '\'' || *s == '"')
                        quote = *s;
                else if (*s == '#' && sh_word_start(&b)) {
                        while (s[1] && s[1] != '\n')
                                s++;
                        continue;
                }
                buf_add(&b, s, 1);
        }
        ret->end = s;
        if (*s == '\n') {
                s++;
                (*line)++;
        }
        *p = s;
        ret->text = buf_steal(&b);
}

#define SH_OPERATORS ";&|()<>"

/* The words and operators of a logical line, as they are written (quotes and all). */
static char **sh_tokens(const char *s) {
        char **t = xcalloc(1, sizeof(char *));
        size_t n = 0;

        while (*s) {
                const char *start = s;
                char quote = 0;

                if (*s == ' ' || *s == '\t' || *s == '\n') {
                        s++;
                        continue;
                }
                if (strchr(SH_OPERATORS, *s)) {
                        strv_push_counted(&t, &n, xstrndup(s++, 1));
                        continue;
                }
                for (; *s && (quote || !strchr(" \t\n" SH_OPERATORS, *s)); s++) {
                        if (quote == '\'') {
                                if (*s == '\'')
                                        quote = 0;
                        } else if (*s == '\\' && s[1])
                                s++;
                        else if (quote == '"') {
                                if (*s == '"')
                                        quote = 0;
                        } else if (*s == '\'' || *s == '"')
                                quote = *s;
                }
                strv_push_counted(&t, &n, xstrndup(start, s - start));
        }
        return t;
}

static bool is_operator(const char *tok) {
        return tok[0] && !tok[1] && strchr(SH_OPERATORS, tok[0]);
}

static size_t ident_len(const char *s) {
        size_t n = 0;

        if (!isalpha((unsigned char) s[0]) && s[0] != '_')
                return 0;
        while (isalnum((unsigned char) s[n]) || s[n] == '_')
                n++;
        return n;
}

/* The length of the name a token assigns (NAME=...), 0 if it is no assignment. */
static size_t assignment_name(const char *tok) {
        size_t n = ident_len(tok);
        return n > 0 && tok[n] == '=' ? n : 0;
}

/* What the text has assigned so far; the variables an unreadable line assigned are poisoned:
 * what they hold is not known. */
typedef struct Shell {
        const char *name;
        char **vars;               /* "NAME=value" */
        size_t n_vars;
        char **poisoned;
        unsigned depth;            /* of if, case, loops and braces */
        bool assigned;             /* name was */
} Shell;

static char **sh_find(Shell *sh, const char *name, size_t n) {
        for (size_t i = 0; i < sh->n_vars; i++)
                if (strncmp(sh->vars[i], name, n) == 0 && sh->vars[i][n] == '=')
                        return &sh->vars[i];
        return NULL;
}

static void sh_set(Shell *sh, const char *name, size_t n, const char *value) {
        char **v = sh_find(sh, name, n), *s = xasprintf("%.*s=%s", (int) n, name, value);

        if (v) {
                free(*v);
                *v = s;
        } else
                strv_push_counted(&sh->vars, &sh->n_vars, s);
        if (strlen(sh->name) == n && strncmp(sh->name, name, n) == 0)
                sh->assigned = true;
        if (sh->poisoned) {         /* known again */
                size_t j = 0;
                for (size_t i = 0; sh->poisoned[i]; i++)
                        if (strlen(sh->poisoned[i]) == n && strncmp(sh->poisoned[i], name, n) == 0)
                                free(sh->poisoned[i]);
                        else
                                sh->poisoned[j++] = sh->poisoned[i];
                sh->poisoned[j] = NULL;
        }
}

static int sh_get(Shell *sh, const char *name, size_t n, const char **ret) {
        char **v = sh_find(sh, name, n);

        STRV_FOREACH(p, sh->poisoned)
                if (strlen(*p) == n && strncmp(*p, name, n) == 0)
                        return -EINVAL;
        *ret = v ? *v + n + 1 : "";
        return 0;
}

/* Expands the $NAME or ${NAME} at *s (moving *s to its last character): anything else that
 * follows a '$' (a command substitution, ${NAME:-x}, $1, ...) cannot be read without running. */
static int sh_expand_var(Shell *sh, const char **s, Buf *b) {
        const char *p = *s + 1, *value;
        bool braced = *p == '{';
        size_t n = ident_len(p + braced);

        if (n == 0) {
                if (braced || (*p && strchr("(0123456789@*#?$!-", *p)))
                        return -EINVAL;
                buf_add(b, "$", 1);
                return 0;
        }
        if (braced && p[1 + n] != '}')
                return -EINVAL;
        if (sh_get(sh, p + braced, n, &value) < 0)
                return -EINVAL;
        buf_add(b, value, strlen(value));
        *s = p + braced + n - !braced;
        return 0;
}

/* The value of an assignment's word, as sh would make it: quotes removed, variables expanded. */
static int sh_expand(Shell *sh, const char *s, char **ret) {
        Buf b = {};
        char quote = 0;
        int r = 0;

        for (; *s && r >= 0; s++) {
                if (quote == '\'') {
                        if (*s == '\'')
                                quote = 0;
                        else
                                buf_add(&b, s, 1);
                } else if (*s == '`')
                        r = -EINVAL;
                else if (*s == '\\' && s[1]) {
                        if (quote == '"' && !strchr("$`\"\\", s[1]))
                                buf_add(&b, s, 1);
                        buf_add(&b, ++s, 1);
                } else if (*s == '"')
                        quote = quote ? 0 : '"';
                else if (*s == '\'' && !quote)
                        quote = '\'';
                else if (*s == '$')
                        r = sh_expand_var(sh, &s, &b);
                else
                        buf_add(&b, s, 1);
        }
        if (r >= 0 && quote)
                r = -EINVAL;
        if (r < 0) {
                free(b.s);
                return r;
        }
        *ret = buf_steal(&b);
        return 0;
}

/* One simple command of tokens t[0..n): assignments, export, unset of another variable. */
static int sh_command(Shell *sh, char **t, size_t n) {
        bool export = n > 0 && streq(t[0], "export"), unset = n > 0 && streq(t[0], "unset");

        for (size_t i = export || unset; i < n; i++) {
                size_t len = assignment_name(t[i]);
                _cleanup_free_ char *value = NULL;

                if (unset && ident_len(t[i]) == strlen(t[i]) && !streq(t[i], sh->name))
                        sh_set(sh, t[i], strlen(t[i]), "");
                else if (export && ident_len(t[i]) == strlen(t[i]))
                        continue;
                else if (unset || len == 0 || sh_expand(sh, t[i] + len + 1, &value) < 0)
                        return -EINVAL;
                else
                        sh_set(sh, t[i], len, value);
        }
        return 0;
}

/* Whether the tokens name the variable asked for: an assignment of it, `unset NAME`, ... */
static bool sh_touches(const Shell *sh, char **t) {
        STRV_FOREACH(w, t) {
                const char *rest = startswith(*w, sh->name);
                if (rest && (!*rest || *rest == '=' || startswith(rest, "+=")))
                        return true;
        }
        return false;
}

/* Whether a token at a command's start is `.` or `source`: what they read is not known. */
static bool sh_sources(char **t) {
        for (size_t i = 0; t[i]; i++)
                if ((i == 0 || is_operator(t[i - 1])) && (streq(t[i], ".") || streq(t[i], "source")))
                        return true;
        return false;
}

/* Counts the compound commands the tokens open and close; true if the line is in one, or is
 * one. */
static bool sh_control(Shell *sh, char **t) {
        static const char * const opening[] = { "if", "case", "for", "while", "until", "{" };
        static const char * const closing[] = { "fi", "esac", "done", "}" };
        static const char * const inner[] = { "then", "else", "elif", "do", "!", "function" };
        bool control = sh->depth > 0;

        STRV_FOREACH(w, t) {
                for (size_t i = 0; i < ELEMENTSOF(opening); i++)
                        if (streq(*w, opening[i])) {
                                sh->depth++;
                                control = true;
                        }
                for (size_t i = 0; i < ELEMENTSOF(closing); i++)
                        if (streq(*w, closing[i])) {
                                sh->depth -= sh->depth > 0;
                                control = true;
                        }
                for (size_t i = 0; i < ELEMENTSOF(inner); i++)
                        control = control || streq(*w, inner[i]);
        }
        return control;
}

/* Runs the simple commands of a line, separated by ';'; any other operator makes it unreadable. */
static int sh_commands(Shell *sh, char **t) {
        size_t start = 0, i;

        for (i = 0; t[i]; i++) {
                if (!is_operator(t[i]))
                        continue;
                if (!streq(t[i], ";") || sh_command(sh, t + start, i - start) < 0)
                        return -EINVAL;
                start = i + 1;
        }
        return sh_command(sh, t + start, i - start);
}

static int sh_line(Shell *sh, const char *text) {
        _cleanup_strv_free_ char **t = sh_tokens(text);

        if (sh_sources(t))
                return -EINVAL;
        if (!sh_control(sh, t) && sh_commands(sh, t) >= 0)
                return 0;
        if (sh_touches(sh, t))
                return -EINVAL;
        /* Ignored, but what it assigns is not known any more. */
        STRV_FOREACH(w, t) {
                size_t n = ident_len(*w);
                if (n > 0 && ((*w)[n] == '=' || startswith(*w + n, "+=")))
                        strv_push(&sh->poisoned, xstrndup(*w, n));
        }
        return 0;
}

int grub_defaults_eval(const char *text, const char *name, char **value, unsigned *ret_line) {
        Shell sh = { .name = name };
        unsigned line = 1;
        int r = 0;

        if (*value)
                sh_set(&sh, name, strlen(name), *value);
        sh.assigned = false;
        for (const char *p = strempty(text); *p && r >= 0; ) {
                ShLine l;

                sh_next_line(&p, &line, &l);
                r = sh_line(&sh, l.text);
                if (r < 0 && ret_line)
                        *ret_line = l.number;
                free(l.text);
        }
        if (r >= 0 && sh.assigned) {
                const char *v;

                sh_get(&sh, name, strlen(name), &v);
                free(*value);
                *value = xstrdup(v);
        }
        strv_free(sh.vars);
        strv_free(sh.poisoned);
        return r;
}

char *grub_defaults_assignment(const char *name, const char *value) {
        Buf b = {};

        buf_add(&b, name, strlen(name));
        buf_add(&b, "=\"", 2);
        for (const char *s = strempty(value); *s; s++) {
                if (strchr("\"\\$`", *s))
                        buf_add(&b, "\\", 1);
                buf_add(&b, s, 1);
        }
        buf_add(&b, "\"", 1);
        return buf_steal(&b);
}

/* Whether a logical line assigns name at its start. */
static bool assigns_at_start(const char *text, const char *name) {
        const char *s = text + strspn(text, " \t"), *rest;

        if ((rest = startswith(s, "export")) && (*rest == ' ' || *rest == '\t'))
                s = rest + strspn(rest, " \t");
        rest = startswith(s, name);
        return rest && *rest == '=';
}

char *text_replace_assignment(const char *text, const char *name, const char *line) {
        unsigned number = 1;
        const char *p = strempty(text);

        while (*p) {
                ShLine l;
                bool found;

                sh_next_line(&p, &number, &l);
                found = assigns_at_start(l.text, name);
                free(l.text);
                if (found)
                        return xasprintf("%.*s%s%s", (int) (l.start - text), text, line, l.end);
        }
        text = strempty(text);
        return xasprintf("%s%s%s\n", text, *text && !endswith(text, "\n") ? "\n" : "", line);
}
