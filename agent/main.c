/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "run.h"

int main(int argc, char *argv[]) {
        return run(argc, argv);
}
