/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* Editing kernel command lines, as words: no I/O. */

/* Words of a kernel command line, split as the kernel does (next_arg() in lib/cmdline.c):
 * at runs of whitespace outside double quotes; the quotes stay part of the word
 * (`foo="a b"` is one word). Never NULL: an empty line is an empty vector (a NULL-terminated
 * array whose first element is NULL). */
char **cmdline_split(const char *line);
/* The words joined by single spaces ("" for none). */
char *cmdline_join(char * const *words);
/* Whether two words have the same key (the part before the first '=', the whole word if it has
 * none), with '-' and '_' the same as the kernel's parameq() treats them, so `default-hugepagesz=1G`
 * and `default_hugepagesz=2M` have the same key, and `hugepagesz=` never matches `default_hugepagesz=`.
 * A double quote that opens the word (`"foo=a b"`) is not part of the key, as in the kernel. */
bool cmdline_same_key(const char *a, const char *b);
/* Same key and same value (the value compared byte for byte; `foo` has no value, `foo=` an
 * empty one). */
bool cmdline_same_word(const char *a, const char *b);

/* What one edit did: the words it put in and the words it took out, in order, to be recorded so
 * that cmdline_undo() can take the edit back. */
typedef struct CmdlineEdit {
        char **added;
        char **removed;
} CmdlineEdit;
void cmdline_edit_done(CmdlineEdit *e);

/* Applies a policy to the words of a command line and returns the new words (never NULL).
 * add: the policy's Arguments= words. For each key of add (in order of first appearance): if the
 *   line already has exactly the policy's words of that key (same words, same order among that key's
 *   words), nothing changes for it; otherwise every word of the line with that key is taken out
 *   (recorded in removed) and the policy's words of that key are put in their place — at the position of
 *   the first word of that key that was in the line, or appended at the end when there was none —
 *   (recorded in added). The keys `hugepagesz`, `hugepages`, `default_hugepagesz` are ONE group, so
 *   that hugepagesz/hugepages pairs keep their relative order: if add has any of them, the line's
 *   words of the whole group are replaced by add's words of the group, in add's order, at the position
 *   of the first group word in the line.
 * remove: the policy's RemoveArguments= words: a word with '=' removes only that exact word; a word without
 *   '=' removes every word with that key (`quiet` removes `quiet`; `splash` removes `splash` and `splash=silent`).
 *   Recorded in removed. Remove never takes out a word of a key that add puts in.
 * Words of other keys stay as they are, in their order, values untouched. Duplicated identical words in
 * add count once, except in the hugepage group, where each word counts (`hugepagesz=1G hugepages=4
 * hugepagesz=2M hugepages=4` reserves pages of both sizes).
 * removed lists the words taken out in the line's order, added the words put in in the new line's
 * order. The edit *e may be NULL; it is overwritten (cmdline_edit_done() an earlier one first);
 * its vectors are never NULL. */
char **cmdline_apply(char * const *words, char * const *add, char * const *remove, CmdlineEdit *e);

/* The keys whose words cmdline_apply() replaces for add, as words for its remove list (a key
 * alone removes every word of it): each word's key, and for a word of the hugepage group
 * all three keys of the group. For a line that takes no additions but must not keep what
 * add replaces elsewhere (GRUB_CMDLINE_LINUX_DEFAULT, which comes after the policy's words
 * and would win). Never NULL. */
char **cmdline_replaced_keys(char * const *add);

/* Takes an earlier edit back from the words as they are now: each added word still present (same word)
 * is taken out (one occurrence per record), then each removed word is put back at the end, in order,
 * unless a word of its key is there now (someone set it since: theirs wins) — for a flag word (no '=')
 * unless the same word is there. "Now" is the line once the added words are out, so a key's several
 * removed words all come back; the hugepage group counts as one key here too, and a flag of the key
 * (`splash` for `splash=silent`) does not keep a word with a value out. Returns the new words
 * (never NULL). */
char **cmdline_undo(char * const *words, char * const *added, char * const *removed);

/* The protected keys: words a policy may neither add nor remove because the system would not boot
 * (root, rootfstype, rootflags, ro, rw, init, initrd, BOOT_IMAGE).
 * Returns true if word's key is one of them. */
bool cmdline_key_protected(const char *word);

/* Memory the words reserve at boot, in bytes, on a machine with mem_total bytes and the given
 * default hugepage size (2 MiB on x86 when 0 is passed):
 *  - hugepages: each `hugepages=N` counts N pages of the size of the `hugepagesz=` before it, or of
 *    `default_hugepagesz=` when no hugepagesz= came before (wherever default_hugepagesz= stands; the
 *    first one, as the kernel ignores the others), or of the default size. Sizes parse as the kernel's
 *    memparse: a number (0x for hex, as strtoull's base 0) with an optional K/M/G/T/P/E suffix (either
 *    case). `hugepages=` also accepts the per-node form `hugepages=0:2,1:2` (the sum of the counts).
 *  - crashkernel: `crashkernel=SIZE`, `crashkernel=SIZE@OFFSET`, `crashkernel=SIZE,high` plus
 *    `crashkernel=SIZE,low` (both add), and the range form `crashkernel=RANGE:SIZE[,RANGE:SIZE...][@OFFSET]`
 *    where RANGE is `START-[END]` (END exclusive; open end means no limit): the SIZE of the range that contains
 *    mem_total. The last crashkernel= word of each kind (plain/high/low) wins, and, as in the kernel,
 *    a plain one makes the ,high and ,low ones ignored. `crashkernel=SIZE,cma` adds too. No default
 *    low size is counted for a ,high without ,low.
 * Returns 0 and sets *ret on success; -EINVAL (and *ret_word to the offending word, not owned: a pointer
 * into words) when a reservation word cannot be parsed (any of them, not only the ones that win). */
int cmdline_reserved_bytes(char * const *words, uint64_t mem_total, uint64_t hugepage_size, uint64_t *ret, const char **ret_word);
/* The least memory the OS keeps whatever is reserved: a quarter of mem_total, and never less than
 * 2 GiB (1 GiB on a machine of less than 4 GiB); never more than mem_total. */
uint64_t cmdline_memory_floor(uint64_t mem_total);

/* GRUB's defaults files (/etc/default/grub, /etc/default/grub.d/ *.cfg) are shell: these read the
 * common idioms of a variable's assignment without running anything.
 * grub_defaults_eval(text, name, value): evaluates the assignments of NAME in text, in order, starting from
 * *value (may be NULL = unset/empty); handles: NAME=word, NAME="...", NAME='...', with `$NAME`, `${NAME}` and
 * other-variable references `$OTHER`/`${OTHER}` expanded (other variables assigned earlier in the same text are
 * known; unknown ones expand to ""), `export NAME=...`, several assignments on a line or separated by ';',
 * comments (#...) and blank lines, lines continued with a trailing backslash, `NAME="${NAME} more"`.
 * Any assignment of NAME it cannot read (NAME+=..., command substitution $(...) or backticks, inside an
 * `if`/`case`/loop/braces, `unset NAME`, parameter expansions like ${NAME:-x}, a reference to a variable
 * that an unreadable line assigned) makes it fail with -EINVAL; unreadable lines that do not touch NAME
 * are ignored unless they are `.`/`source`, which fail. On success *value is replaced with the new value
 * (freed old; left as it is when text does not assign NAME). Returns 0 or -EINVAL (with *ret_line, which may
 * be NULL, set to the 1-based line number of the first unreadable line). */
int grub_defaults_eval(const char *text, const char *name, char **value, unsigned *ret_line);
/* One assignment line `NAME="VALUE"` for a defaults file, with ", \, $ and ` in value escaped for
 * double quotes. */
char *grub_defaults_assignment(const char *name, const char *value);
/* text with the first line that assigns NAME at the start of a line (`NAME=`, after optional blanks or `export `)
 * replaced by `line` (which has no newline) — the whole logical line, with its continuation lines and
 * the lines of a quoted value; when no line assigns it, line and a newline appended (with a newline
 * before them if text is not empty and does not end in one). Returns a new string. Used on
 * /etc/default/grub when there is no grub.d. */
char *text_replace_assignment(const char *text, const char *name, const char *line);
