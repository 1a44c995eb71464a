/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "fs-util.h"
#include "cmdline.h"
#include "glob.h"
#include "macro.h"
#include "json.h"
#include "policy.h"
#include "strv.h"

const char * const policy_search_dirs[] = {
        "/etc/dpuos-trim/policy.d",
        "/run/dpuos-trim/policy.d",
        "/usr/local/lib/dpuos-trim/policy.d",
        "/usr/lib/dpuos-trim/policy.d",
        NULL,
};

/* The limits that bound a run's work whatever the policy: see dpuos-trim.conf(5), Limits. */
#define POLICY_FILE_MAX (1024 * 1024)
#define POLICY_TOTAL_MAX (16 * 1024 * 1024)
#define POLICY_FILES_MAX 16384
#define POLICY_WORDS_MAX 100000
#define POLICY_SETTINGS_MAX 10000

typedef enum Section {
        SECTION_NONE,
        SECTION_INVALID,
        SECTION_POLICY,
        SECTION_UNITS,
        SECTION_MODULES,
        SECTION_SYSCTL,
        SECTION_SYSFS,
        SECTION_FILES,
        SECTION_PACKAGES,
        SECTION_KERNEL,
} Section;

static const char * const section_names[] = {
        [SECTION_POLICY] = "Policy",
        [SECTION_UNITS] = "Units",
        [SECTION_MODULES] = "Modules",
        [SECTION_SYSCTL] = "Sysctl",
        [SECTION_SYSFS] = "Sysfs",
        [SECTION_FILES] = "Files",
        [SECTION_PACKAGES] = "Packages",
        [SECTION_KERNEL] = "Kernel",
};

typedef struct Parser {
        Policy *policy;
        const char *name;
        const char *text, *end;  /* what is left to read */
        unsigned line;           /* physical line last handed to inih */
        Section section;
        unsigned n_errors;
} Parser;

_printf_(2, 3)
static void parser_error(Parser *ps, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        strv_push(&ps->policy->errors, xasprintf("%s:%u: %s", ps->name, ps->line, strempty(msg)));
        ps->n_errors++;
}

static Section section_from_string(const char *s) {
        for (size_t i = 0; i < ELEMENTSOF(section_names); i++)
                if (section_names[i] && streq(section_names[i], s))
                        return (Section) i;
        return SECTION_INVALID;
}

/* inih splits a key from its value at '=' or ':', but a sysfs path may hold ':' (PCI
 * addresses): the reader hands such colons over as this byte, and the handler turns them
 * back. */
#define KEY_COLON '\x01'

/* Our own reader sees every physical line before inih does, so that nothing is silently
 * split or joined and nothing depends on how the library was built: a line too long for
 * its buffer is an error, leading white space is dropped (the library would otherwise take
 * an indented line as the continuation of the previous value), comment lines never reach
 * it, and '#' or ';' after white space starts a comment. Lines found wrong here reach inih
 * as empty lines. */
static char *reader(char *buf, int num, void *stream) {
        Parser *ps = stream;
        const char *s, *eol;
        size_t n;

        if (ps->text >= ps->end)
                return NULL;

        s = ps->text;
        eol = memchr(s, '\n', ps->end - s);
        if (!eol)
                eol = ps->end;
        ps->text = eol < ps->end ? eol + 1 : eol;
        ps->line++;

        /* A UTF-8 byte order mark, as some editors write. */
        if (ps->line == 1 && eol - s >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
                s += 3;
        while (s < eol && (*s == ' ' || *s == '\t'))
                s++;
        n = eol - s;
        if (n > 0 && s[n - 1] == '\r')
                n--;
        strcpy(buf, "\n");
        if (n == 0 || s[0] == '#' || s[0] == ';')
                return buf;

        for (size_t i = 1; i < n; i++)
                if ((s[i] == '#' || s[i] == ';') && (s[i - 1] == ' ' || s[i - 1] == '\t')) {
                        n = i;
                        break;
                }
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;

        if (memchr(s, 0, n) || memchr(s, KEY_COLON, n)) {
                parser_error(ps, "line contains a control byte (NUL or \\x01)");
                return buf;
        }
        /* inih needs room for the line, "\r\n" and the terminating NUL. */
        if (num < 4 || n > (size_t) num - 3) {
                parser_error(ps, "line is too long (%zu bytes, at most %d)", n, num - 3);
                return buf;
        }

        if (s[0] == '[') {
                const char *close = memchr(s, ']', n);
                if (!close || close != s + n - 1) {
                        parser_error(ps, "section header must be '[Name]' alone on its line");
                        return buf;
                }
                _cleanup_free_ char *name = xstrndup(s + 1, n - 2);
                ps->section = section_from_string(name);
                if (ps->section == SECTION_INVALID)
                        parser_error(ps, "unknown section [%s]", name);
        } else if (!memchr(s, '=', n)) {
                parser_error(ps, "expected KEY=VALUE, a [Section] or a comment");
                return buf;
        }

        memcpy(buf, s, n);
        buf[n] = '\n';
        buf[n + 1] = 0;
        if (s[0] != '[')
                for (char *c = buf; *c && *c != '='; c++)
                        if (*c == ':')
                                *c = KEY_COLON;
        return buf;
}

static int parse_boolean(const char *v) {
        static const char * const yes[] = { "1", "yes", "y", "true", "t", "on" };
        static const char * const no[] = { "0", "no", "n", "false", "f", "off" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(v, yes[i]) == 0)
                        return 1;
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(v, no[i]) == 0)
                        return 0;
        return -EINVAL;
}

/* dpuos-trim.service runs with PrivateTmp=yes and ProtectHome=read-only: a removal there
 * would do nothing, or fail at every boot. */
static bool in_sandboxed_dir(const char *pattern) {
        static const char * const dirs[] = { "/tmp", "/var/tmp", "/home", "/root" };

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                const char *rest = startswith(pattern, dirs[i]);
                if (rest && (*rest == '/' || *rest == 0))
                        return true;
        }
        return false;
}

int file_pattern_check(const char *pattern, bool for_removal, const char **ret_why) {
        const char *why = NULL;
        unsigned globstars = 0;

        if (pattern[0] != '/')
                why = "is not an absolute path";
        else if (strstr(pattern, "//"))
                why = "contains '//'";
        else if (!path_is_safe_absolute(pattern))
                why = "contains a '.' or '..' component";
        else if (strlen(pattern) > 1 && endswith(pattern, "/"))
                why = "ends in '/'";
        else if (strlen(pattern) >= 4096)
                why = "is longer than PATH_MAX";

        for (const char *s = pattern; !why && (s = strstr(s, "**")); s += 2)
                if (++globstars > 4)
                        why = "has more than four '**'";

        if (!why && for_removal) {
                _cleanup_free_ char *lit = glob_literal_dir(pattern);
                const char *rest = strchr(pattern + 1, '/');

                if (streq(pattern, "/"))
                        why = "would remove the root directory";
                else if (in_sandboxed_dir(pattern))
                        why = "lies where the first-boot service cannot reach (its /tmp and /var/tmp are "
                              "private, /home and /root read-only); remove it another way";
                else if (streq(lit, "/") && (string_is_glob(pattern) || !rest))
                        why = "would remove top-level directories";
                else if (!strchr(lit + 1, '/') && string_is_glob(pattern))
                        why = "would empty a top-level directory; name a directory below it";
        }

        if (ret_why)
                *ret_why = why;
        return why ? -EINVAL : 0;
}

typedef enum ListKind { LIST_UNIT, LIST_MODULE, LIST_FILE_REMOVE, LIST_FILE_KEEP, LIST_PACKAGE, LIST_KERNEL } ListKind;

typedef enum PolicyList {
        UNITS_MASK, UNITS_KEEP, MODULES_UNLOAD, MODULES_BLACKLIST, MODULES_KEEP, FILES_REMOVE, FILES_KEEP,
        PACKAGES_REMOVE, PACKAGES_KEEP, KERNEL_ARGS, KERNEL_REMOVE,
        _POLICY_LIST_MAX,
} PolicyList;

/* What the merge knows of each list: its length and the set of what it holds, so that a
 * policy of n words merges in O(n), from one file or ten thousand. */
struct PolicyLists {
        size_t n[_POLICY_LIST_MAX];
        StrSet seen[_POLICY_LIST_MAX];
        size_t n_sources;
        size_t n_words;         /* list words read, duplicates included */
        size_t n_bytes;         /* policy text read */
};

static struct PolicyLists *policy_lists(Policy *p) {
        if (!p->lists)
                p->lists = xcalloc(1, sizeof(struct PolicyLists));
        return p->lists;
}

static char ***policy_list(Policy *p, PolicyList l) {
        switch (l) {
        case UNITS_MASK:        return &p->unit_mask;
        case UNITS_KEEP:        return &p->unit_keep;
        case MODULES_UNLOAD:    return &p->module_unload;
        case MODULES_BLACKLIST: return &p->module_blacklist;
        case MODULES_KEEP:      return &p->module_keep;
        case FILES_REMOVE:      return &p->file_remove;
        case FILES_KEEP:        return &p->file_keep;
        case PACKAGES_REMOVE:   return &p->package_remove;
        case KERNEL_ARGS:       return &p->kernel_args;
        case KERNEL_REMOVE:     return &p->kernel_remove;
        default:                return &p->package_keep;
        }
}

static ListKind list_kind(PolicyList l) {
        return l <= UNITS_KEEP ? LIST_UNIT : l <= MODULES_KEEP ? LIST_MODULE :
               l == FILES_REMOVE ? LIST_FILE_REMOVE : l == FILES_KEEP ? LIST_FILE_KEEP :
               l >= KERNEL_ARGS ? LIST_KERNEL : LIST_PACKAGE;
}

/* Why a word cannot be a kernel argument of the policy, or NULL. They are written into
 * GRUB's shell defaults and boot loader entries, and the kernel splits at blanks. */
static const char *kernel_argument_why(const char *w) {
        if (!text_is_printable(w) || strpbrk(w, "\"'`$\\;&|<>(){}"))
                return "has a quote, '$', '\\', or a character of shell syntax";
        if (w[0] == '=' || w[0] == '-')
                return "is not a kernel argument (NAME or NAME=VALUE)";
        if (cmdline_key_protected(w))
                return "is protected: the system finds its root and init by it";
        if (startswith(w, "dpuos_trim") || startswith(w, "dpuos-trim"))
                return "is dpuos-trim's own switch: it belongs on a boot's command line, not in its policy";
        return NULL;
}

/* Checks one word of a list and adds it to words; false (said) when it is not valid. */
static bool list_word(Parser *ps, PolicyList which, const char *key, const char *w, char ***words) {
        ListKind kind = list_kind(which);
        const char *why = NULL;

        switch (kind) {
        case LIST_UNIT:
                if (!unit_name_is_valid(w, true)) {
                        parser_error(ps, "%s=: '%s' is not a valid unit name or glob", key, w);
                        return false;
                }
                /* A glob never matches a protected unit; a name is a mistake. */
                if (streq(key, "Mask") && !string_is_glob(w) && (why = unit_name_protected(w))) {
                        parser_error(ps, "%s=: '%s' is protected (%s) and is never masked", key, w, why);
                        return false;
                }
                strv_extend(words, w);
                break;
        case LIST_MODULE:
                if (!module_name_is_valid(w, true)) {
                        parser_error(ps, "%s=: '%s' is not a valid module name or glob", key, w);
                        return false;
                }
                strv_push(words, module_name_normalize(w));
                break;
        case LIST_FILE_REMOVE:
        case LIST_FILE_KEEP:
                if (file_pattern_check(w, kind == LIST_FILE_REMOVE, &why) < 0) {
                        parser_error(ps, "%s=: '%s' %s", key, w, why);
                        return false;
                }
                strv_extend(words, w);
                break;
        case LIST_PACKAGE:
                if (!package_name_is_valid(w + (which == PACKAGES_REMOVE && w[0] == '-'), true)) {
                        parser_error(ps, "%s=: '%s' is not a valid package name or glob", key, w);
                        return false;
                }
                strv_extend(words, w);
                break;
        case LIST_KERNEL:
                if ((why = kernel_argument_why(w))) {
                        parser_error(ps, "%s=: '%s' %s", key, w, why);
                        return false;
                }
                strv_extend(words, w);
                break;
        }

        return true;
}

static void parse_list(Parser *ps, PolicyList which, const char *key, const char *value) {
        Policy *p = ps->policy;
        char ***list = policy_list(p, which);
        ListKind kind = list_kind(which);
        _cleanup_strv_free_ char **words = NULL;
        _cleanup_free_ char *copy = xstrdup(value);
        char *save = NULL;

        policy_lists(p);

        /* The systemd convention: an empty assignment resets the list so far. */
        if (!*value) {
                strv_free(*list);
                *list = NULL;
                p->lists->n[which] = 0;
                strset_done(&p->lists->seen[which]);
                return;
        }

        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                if (++p->lists->n_words > POLICY_WORDS_MAX) {
                        if (p->lists->n_words == POLICY_WORDS_MAX + 1)
                                parser_error(ps, "the policy has more than %d list entries", POLICY_WORDS_MAX);
                        else
                                ps->n_errors++;  /* said once, still an error */
                        return;
                }

                if (!list_word(ps, which, key, w, &words))
                        return;
        }

        for (size_t i = 0; words && words[i]; i++)
                if (kind == LIST_KERNEL)
                        /* Order and repeats count: hugepagesz=1G hugepages=4 hugepagesz=2M hugepages=4 */
                        strv_push_counted(list, &p->lists->n[which], TAKE_PTR(words[i]));
                else if (strset_put(&p->lists->seen[which], words[i]))
                        strv_push_counted(list, &p->lists->n[which], TAKE_PTR(words[i]));
                else
                        free(TAKE_PTR(words[i]));
}

/* KEY=auto|no: *no is set for "no". */
static void parse_auto_no(Parser *ps, bool *no, const char *key, const char *value) {
        if (streq(value, "auto") || streq(value, "no"))
                *no = streq(value, "no");
        else
                parser_error(ps, "%s=: '%s' is not 'auto' or 'no'", key, value);
}

static void parse_bool_key(Parser *ps, bool *b, const char *key, const char *value) {
        int r = parse_boolean(value);
        if (r < 0)
                parser_error(ps, "%s=: '%s' is not a boolean (yes/no)", key, value);
        else
                *b = r;
}

/* sysctl names may be written with '/' as in /proc/sys; the dotted form is canonical. As in
 * systemd's sysctl_normalize(), when the first separator is '/', '/' and '.' swap roles
 * (so "net/ipv4/conf/eth0.100/rp_filter" keeps the dot of the VLAN interface). */
static char *sysctl_normalize(const char *key) {
        char *r = xstrdup(key);
        char *first = strpbrk(r, "./");

        if (first && *first == '/')
                for (char *c = r; *c; c++)
                        *c = *c == '/' ? '.' : *c == '.' ? '/' : *c;
        return r;
}

static void setting_free(Setting *s) {
        free(s->key);
        free(s->value);
}

/* What a TuneD profile's [sysctl] section may hold and systemd-sysctl would write to the
 * kernel as it stands, where the kernel refuses it at every boot. */
static const char *tuned_syntax(const char *value) {
        size_t n = strlen(value);

        if (n >= 2 && (value[0] == '"' || value[0] == '\'') && value[n - 1] == value[0])
                return "quotes are TuneD syntax, and systemd-sysctl would write them into the value; "
                       "write the value without them (spaces need no quoting)";
        if (value[0] == '>' || value[0] == '<')
                return "'>' and '<' (at least, at most) are TuneD syntax that systemd-sysctl cannot express; "
                       "write the value itself";
        if (strstr(value, "${"))
                return "${...} is a TuneD variable, which systemd-sysctl does not expand; write the value itself";
        return NULL;
}

static void set_setting(Parser *ps, Setting **list, size_t *n, const char *raw_key, const char *value, bool sysctl) {
        const char *why;
        bool ignore_missing = raw_key[0] == '-';
        const char *k = raw_key + ignore_missing;
        _cleanup_free_ char *key = NULL;
        size_t i;

        if (sysctl) {
                key = sysctl_normalize(k);
                if (!sysctl_name_is_valid(key)) {
                        parser_error(ps, "'%s' is not a valid sysctl name (globs are not allowed)", k);
                        return;
                }
        } else {
                if (!sysfs_path_is_valid(k)) {
                        parser_error(ps, "'%s' is not an absolute path below /sys or /proc without globs", k);
                        return;
                }
                key = xstrdup(k);
        }
        if (strpbrk(value, "\n\r")) {
                parser_error(ps, "value of '%s' contains a line break", k);
                return;
        }
        if (sysctl && (why = tuned_syntax(value))) {
                parser_error(ps, "value of '%s': %s", k, why);
                return;
        }

        for (i = 0; i < *n; i++)
                if (streq((*list)[i].key, key))
                        break;

        /* An empty value drops an earlier setting of the key, so a drop-in can undo one entry. */
        if (!*value) {
                if (i < *n) {
                        setting_free(&(*list)[i]);
                        memmove(&(*list)[i], &(*list)[i + 1], (*n - i - 1) * sizeof(Setting));
                        (*n)--;
                }
                return;
        }

        if (i == *n) {
                if (*n >= POLICY_SETTINGS_MAX) {
                        parser_error(ps, "more than %d settings in [%s]", POLICY_SETTINGS_MAX, sysctl ? "Sysctl" : "Sysfs");
                        return;
                }
                *list = xrealloc(*list, (*n + 1) * sizeof(Setting));
                (*list)[i] = (Setting) { .key = TAKE_PTR(key) };
                (*n)++;
        } else
                free((*list)[i].value);
        (*list)[i].value = xstrdup(value);
        (*list)[i].ignore_missing = ignore_missing;
}

static int handler(void *user, const char *section, const char *raw_key, const char *value) {
        Parser *ps = user;
        Policy *p = ps->policy;
        _cleanup_free_ char *key = xstrdup(raw_key);

        for (char *c = key; *c; c++)
                if (*c == KEY_COLON)
                        *c = ':';

        switch (ps->section) {
        case SECTION_NONE:
                parser_error(ps, "assignment outside of a section");
                return 1;
        case SECTION_INVALID:
                return 1;  /* already reported at the section header */
        case SECTION_POLICY:
                if (streq(key, "Name")) {
                        /* It is printed, logged and written into the persisted files. */
                        if (!text_is_printable(value)) {
                                parser_error(ps, "Name=: must be printable text, without control characters");
                                return 1;
                        }
                        free(p->name);
                        p->name = *value ? xstrdup(value) : NULL;
                } else if (streq(key, "TextfileDirectory")) {
                        const char *why = NULL;
                        if (*value && file_pattern_check(value, false, &why) < 0)
                                parser_error(ps, "TextfileDirectory=: '%s' %s", value, why);
                        else if (string_is_glob(value))
                                parser_error(ps, "TextfileDirectory=: '%s' is a glob, not a directory", value);
                        else {
                                free(p->textfile_dir);
                                p->textfile_dir = *value ? xstrdup(value) : NULL;
                        }
                } else if (streq(key, "OnFailure")) {
                        if (streq(value, "continue"))
                                p->on_failure_stop = false;
                        else if (streq(value, "stop"))
                                p->on_failure_stop = true;
                        else
                                parser_error(ps, "OnFailure=: '%s' is not 'continue' or 'stop'", value);
                } else
                        break;
                return 1;
        case SECTION_UNITS:
                if (streq(key, "Mask"))
                        parse_list(ps, UNITS_MASK, key, value);
                else if (streq(key, "Keep"))
                        parse_list(ps, UNITS_KEEP, key, value);
                else if (streq(key, "Stop"))
                        parse_bool_key(ps, &p->unit_stop, key, value);
                else
                        break;
                return 1;
        case SECTION_MODULES:
                if (streq(key, "Unload"))
                        parse_list(ps, MODULES_UNLOAD, key, value);
                else if (streq(key, "Blacklist"))
                        parse_list(ps, MODULES_BLACKLIST, key, value);
                else if (streq(key, "Keep"))
                        parse_list(ps, MODULES_KEEP, key, value);
                else if (streq(key, "RebuildInitramfs"))
                        parse_auto_no(ps, &p->initramfs_no_rebuild, key, value);
                else
                        break;
                return 1;
        case SECTION_SYSCTL:
                set_setting(ps, &p->sysctl, &p->n_sysctl, key, value, true);
                return 1;
        case SECTION_SYSFS:
                set_setting(ps, &p->sysfs, &p->n_sysfs, key, value, false);
                return 1;
        case SECTION_FILES:
                if (streq(key, "Remove"))
                        parse_list(ps, FILES_REMOVE, key, value);
                else if (streq(key, "Keep"))
                        parse_list(ps, FILES_KEEP, key, value);
                else if (streq(key, "PreventReinstall"))
                        parse_bool_key(ps, &p->file_prevent_reinstall, key, value);
                else
                        break;
                return 1;
        case SECTION_KERNEL:
                if (streq(key, "Arguments"))
                        parse_list(ps, KERNEL_ARGS, key, value);
                else if (streq(key, "RemoveArguments"))
                        parse_list(ps, KERNEL_REMOVE, key, value);
                else if (streq(key, "Reboot"))
                        parse_auto_no(ps, &p->kernel_reboot_no, key, value);
                else
                        break;
                return 1;
        case SECTION_PACKAGES:
                if (streq(key, "Remove"))
                        parse_list(ps, PACKAGES_REMOVE, key, value);
                else if (streq(key, "Keep"))
                        parse_list(ps, PACKAGES_KEEP, key, value);
                else if (streq(key, "RemoveUnneeded"))
                        parse_bool_key(ps, &p->package_remove_unneeded, key, value);
                else if (streq(key, "PreventReinstall"))
                        parse_bool_key(ps, &p->package_prevent_reinstall, key, value);
                else
                        break;
                return 1;
        }

        parser_error(ps, "unknown key '%s' in section [%s]", key, section);
        return 1;
}

int policy_parse_buffer(Policy *p, const char *name, const char *text, size_t len) {
        Parser ps = {
                .policy = p,
                .name = name,
                .text = text,
                .end = text + len,
        };
        int r;

        /* The handler never fails, so a non-zero result is a line inih itself refused. */
        r = ini_parse_stream(reader, &ps, handler, &ps);
        if (r > 0 && ps.n_errors == 0) {
                ps.line = (unsigned) r;
                parser_error(&ps, "syntax error");
        } else if (r < 0)
                parser_error(&ps, "the parser ran out of memory");

        policy_lists(p)->n_bytes += len;
        strv_push_counted(&p->sources, &p->lists->n_sources, xstrdup(name));
        return ps.n_errors > 0 ? -EINVAL : 0;
}

int policy_parse_string(Policy *p, const char *name, const char *text) {
        return policy_parse_buffer(p, name, text, strlen(text));
}

/* One candidate file of the merged policy. */
typedef struct Source {
        char *basename;
        char *path;       /* as opened: inside root_fd, or a host path */
        char *display;    /* as named in messages */
        bool in_root;
        bool disabled;    /* a symlink to /dev/null or an empty file */
        size_t order;     /* found: earlier is higher priority */
} Source;

static void sources_free_one(Source *s) {
        free(s->basename);
        free(s->path);
        free(s->display);
}

static void sources_free(Source *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                sources_free_one(&s[i]);
        free(s);
}

/* Every file found is added; of those with the same name, the first found wins (see
 * take_sources()). */
static void add_source(Source **s, size_t *n, const char *path, const char *display, bool in_root, bool disabled) {
        if (*n == 0 || (*n & (*n - 1)) == 0)
                *s = xrealloc(*s, (*n ? *n * 2 : 1) * sizeof(Source));
        (*s)[*n] = (Source) {
                .basename = xstrdup(path_basename(path)),
                .path = xstrdup(path),
                .display = xstrdup(display),
                .in_root = in_root,
                .disabled = disabled,
                .order = *n,
        };
        (*n)++;
}

static int scan_dir(Source **s, size_t *n, int dir_fd, const char *dir, const char *display_prefix, bool in_root) {
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_strv_free_ char **names = NULL;
        struct dirent *de;
        size_t n_names = 0;

        d = fdopendir(dir_fd);
        if (!d) {
                int r = negative_errno();
                close(dir_fd);
                return r;
        }
        while ((errno = 0, de = readdir(d)))
                if (endswith(de->d_name, ".conf") && de->d_name[0] != '.')
                        strv_push_counted(&names, &n_names, xstrdup(de->d_name));
        if (errno > 0)
                return -errno;
        strv_sort(names);

        STRV_FOREACH(name, names) {
                _cleanup_free_ char *path = path_join(dir, *name);
                _cleanup_free_ char *display = xasprintf("%s%s", display_prefix, path);
                char target[64];
                struct stat st;
                bool disabled = false;
                ssize_t k;

                k = readlinkat(dirfd(d), *name, target, sizeof target - 1);
                if (k >= 0) {
                        target[k] = 0;
                        /* "../../../dev/null" disables too, as systemd takes it. */
                        _cleanup_free_ char *abs = target[0] == '/' ? xstrdup(target) : path_join(dir, target);
                        _cleanup_free_ char *norm = path_normalize(abs);
                        disabled = streq(norm, "/dev/null");
                }
                if (!disabled && fstatat(dirfd(d), *name, &st, in_root ? AT_SYMLINK_NOFOLLOW : 0) >= 0 &&
                    S_ISREG(st.st_mode) && st.st_size == 0)
                        disabled = true;
                add_source(s, n, path, display, in_root, disabled);
        }
        return 0;
}

static int source_cmp(const void *a, const void *b) {
        const Source *x = a, *y = b;
        int c = strcmp(x->basename, y->basename);
        return c != 0 ? c : CMP(x->order, y->order);
}

/* Sorts the files by name, the order they are read in, and drops each that a file of the
 * same name found earlier (in a directory of higher priority) overrides. */
static void take_sources(Source *s, size_t *n) {
        size_t kept = 0;

        if (*n == 0)
                return;
        qsort(s, *n, sizeof(Source), source_cmp);
        for (size_t i = 0; i < *n; i++) {
                if (kept > 0 && streq(s[kept - 1].basename, s[i].basename)) {
                        sources_free_one(&s[i]);
                        continue;
                }
                s[kept++] = s[i];
        }
        *n = kept;
}

static int add_host_paths(Policy *p, Source **s, size_t *n, char * const *paths) {
        int r = 0;

        STRV_FOREACH(path, paths) {
                struct stat st;

                if (stat(*path, &st) < 0) {
                        strv_push(&p->errors, xasprintf("%s: cannot read policy: %s", *path, strerror(errno)));
                        r = -EINVAL;
                        continue;
                }
                if (S_ISDIR(st.st_mode)) {
                        int fd = open(*path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
                        if (fd < 0 || scan_dir(s, n, fd, *path, "", false) < 0) {
                                strv_push(&p->errors, xasprintf("%s: cannot read policy directory: %s", *path, strerror(errno)));
                                r = -EINVAL;
                        }
                } else
                        add_source(s, n, *path, *path, false, false);
        }
        return r;
}

/* What only the merged policy can tell. A package named both in Remove= and in Keep= is a
 * contradiction, not a case of Keep= winning over a glob. */
static int policy_check_merged(Policy *p) {
        int r = 0;

        STRV_FOREACH(w, p->package_remove) {
                const char *name = *w + (**w == '-');
                if (!string_is_glob(name) && strv_contains(p->package_keep, name)) {
                        strv_push(&p->errors, xasprintf("[Packages]: '%s' is in both Remove= and Keep=", name));
                        r = -EINVAL;
                }
        }
        /* The same argument to add and to remove: no edit could satisfy both. */
        STRV_FOREACH(w, p->kernel_remove)
                STRV_FOREACH(a, p->kernel_args)
                        if (strchr(*w, '=') ? cmdline_same_word(*w, *a) : cmdline_same_key(*w, *a)) {
                                strv_push(&p->errors, xasprintf("[Kernel]: '%s' of RemoveArguments= would remove '%s' of Arguments=",
                                                                *w, *a));
                                r = -EINVAL;
                                break;
                        }
        return r;
}

/* FNV-1a, 64 bits: a fingerprint to tell two machines' policies apart, not a seal. The file
 * names count without their directory, so the same drop-ins installed in /etc or under
 * --root give the same hash. */
static void policy_hash_add(Policy *p, const void *data, size_t n) {
        const unsigned char *b = data;

        if (p->hash == 0)
                p->hash = UINT64_C(0xcbf29ce484222325);
        for (size_t i = 0; i < n; i++) {
                p->hash ^= b[i];
                p->hash *= UINT64_C(0x100000001b3);
        }
}

int policy_load(Policy *p, int root_fd, const char *root_display, char * const *explicit) {
        return policy_load_extra(p, root_fd, root_display, explicit, NULL);
}

int policy_load_extra(Policy *p, int root_fd, const char *root_display, char * const *explicit, char * const *extra) {
        Source *s = NULL;
        size_t n = 0;
        int r = 0;

        if (explicit)
                r = add_host_paths(p, &s, &n, explicit);
        else {
                r = add_host_paths(p, &s, &n, extra);
                for (const char * const *dir = policy_search_dirs; *dir; dir++) {
                        int fd = open_in_root(root_fd, *dir, O_DIRECTORY | O_RDONLY, 0);
                        if (fd == -ENOENT)
                                continue;
                        /* "cp my.conf /etc/dpuos-trim/policy.d" without the directory makes a
                         * file: its overrides would be lost without a word. */
                        if (fd == -ENOTDIR) {
                                strv_push(&p->errors, xasprintf("%s%s: not a directory: the policy files there "
                                                                "belong in a directory of that name",
                                                                root_display ?: "", *dir));
                                r = -EINVAL;
                                continue;
                        }
                        if (fd < 0 || scan_dir(&s, &n, fd, *dir, root_display ?: "", true) < 0) {
                                strv_push(&p->errors, xasprintf("%s%s: cannot read policy directory: %s",
                                                                root_display ?: "", *dir, strerror(fd < 0 ? -fd : errno)));
                                r = -EINVAL;
                        }
                }
        }

        take_sources(s, &n);
        if (n > POLICY_FILES_MAX) {
                strv_push(&p->errors, xasprintf("%zu policy files: at most %d are read", n, POLICY_FILES_MAX));
                sources_free(s, n);
                return -EINVAL;
        }

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *text = NULL;
                int k;

                if (s[i].disabled)
                        continue;
                k = s[i].in_root ? read_file_in_root(root_fd, s[i].path, POLICY_FILE_MAX, &text)
                                 : read_file_host(s[i].path, POLICY_FILE_MAX, &text);
                if (k < 0) {
                        strv_push(&p->errors, xasprintf("%s: cannot read policy: %s", s[i].display,
                                                        k == -EFBIG ? "larger than 1 MiB" :
                                                        k == -ELOOP ? "a loop of symbolic links" :
                                                        /* a socket cannot be opened (ENXIO) */
                                                        k == -EBADFD || k == -ENXIO ? "not a regular file" :
                                                        strerror(-k)));
                        r = -EINVAL;
                        continue;
                }
                if (policy_lists(p)->n_bytes + (size_t) k > POLICY_TOTAL_MAX) {
                        strv_push(&p->errors, xasprintf("%s: the policy files hold more than %d MiB together",
                                                        s[i].display, POLICY_TOTAL_MAX / (1024 * 1024)));
                        r = -EINVAL;
                        break;
                }
                if (policy_parse_buffer(p, s[i].display, text, (size_t) k) < 0)
                        r = -EINVAL;
                policy_hash_add(p, path_basename(s[i].display), strlen(path_basename(s[i].display)) + 1);
                policy_hash_add(p, text, (size_t) k + 1);
        }

        sources_free(s, n);
        if (policy_check_merged(p) < 0)
                r = -EINVAL;
        return r;
}

void policy_done(Policy *p) {
        if (p->lists)
                for (size_t i = 0; i < _POLICY_LIST_MAX; i++)
                        strset_done(&p->lists->seen[i]);
        free(p->lists);
        free(p->name);
        free(p->textfile_dir);
        strv_free(p->unit_mask);
        strv_free(p->unit_keep);
        strv_free(p->module_unload);
        strv_free(p->module_blacklist);
        strv_free(p->module_keep);
        strv_free(p->kernel_args);
        strv_free(p->kernel_remove);
        for (size_t i = 0; i < p->n_sysctl; i++)
                setting_free(&p->sysctl[i]);
        free(p->sysctl);
        for (size_t i = 0; i < p->n_sysfs; i++)
                setting_free(&p->sysfs[i]);
        free(p->sysfs);
        strv_free(p->file_remove);
        strv_free(p->file_keep);
        strv_free(p->package_remove);
        strv_free(p->package_keep);
        strv_free(p->sources);
        strv_free(p->errors);
        *p = (Policy) {};
}
