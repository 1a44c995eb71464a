/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Replays fuzzer inputs (files or directories of files) through the target in an ordinary
 * build, so every saved corpus entry is a regression test. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path) {
        FILE *f = fopen(path, "rb");
        char *buf = NULL;
        size_t size = 0;

        if (!f) {
                perror(path);
                return -1;
        }
        FILE *m = open_memstream(&buf, &size);
        int c;
        while ((c = fgetc(f)) != EOF)
                fputc(c, m);
        fclose(m);
        fclose(f);
        LLVMFuzzerTestOneInput((const uint8_t *) buf, size);
        free(buf);
        return 0;
}

int main(int argc, char *argv[]) {
        unsigned n = 0, failed = 0;

        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        perror(argv[i]);
                        failed++;
                        continue;
                }
                if (!S_ISDIR(st.st_mode)) {
                        failed += replay_file(argv[i]) < 0;
                        n++;
                        continue;
                }
                DIR *d = opendir(argv[i]);
                struct dirent *de;
                while (d && (de = readdir(d))) {
                        if (de->d_name[0] == '.')
                                continue;
                        char path[4096];
                        snprintf(path, sizeof path, "%s/%s", argv[i], de->d_name);
                        failed += replay_file(path) < 0;
                        n++;
                }
                if (d)
                        closedir(d);
        }
        /* Reaching here means no input crashed the parser (sanitizers abort otherwise). */
        printf("%u passed, %u failed\n", n - failed, failed);
        return failed > 0;
}
