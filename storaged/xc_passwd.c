/*
 * NAME
 *   xc-passwd - hash a password for the users table
 *
 * SUMMARY
 *   xc-passwd [-m KiB] [-t passes] [-p lanes] < password
 *
 * DESCRIPTION
 *   Reads one password (the first line of standard input, without its
 *   newline) and prints its argon2id hash in the encoded form that
 *   xc_set_password() and xc_create_user() take. Defaults are OWASP's
 *   argon2id recommendation: 19 MiB, 2 passes, 1 lane. The password never
 *   appears on a command line.
 */
#include <argon2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    unsigned m = 19456, t = 2, p = 1;
    char pw[1026], out[256];
    unsigned char salt[16];
    size_t n;
    int opt;

    while ((opt = getopt(argc, argv, "m:t:p:")) != -1) {
        switch (opt) {
        case 'm': m = (unsigned)strtoul(optarg, NULL, 10); break;
        case 't': t = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'p': p = (unsigned)strtoul(optarg, NULL, 10); break;
        default:
            fprintf(stderr, "usage: xc-passwd [-m KiB] [-t passes] [-p lanes]"
                            " < password\n");
            return 2;
        }
    }
    if (fgets(pw, sizeof(pw), stdin) == NULL) {
        fprintf(stderr, "xc-passwd: no password on standard input\n");
        return 1;
    }
    n = strcspn(pw, "\r\n");
    pw[n] = '\0';
    if (n == 0 || n > 1024) {
        fprintf(stderr, "xc-passwd: password must be 1 to 1024 bytes\n");
        return 1;
    }
    if (getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt) ||
        argon2id_hash_encoded(t, m, p, pw, n, salt, sizeof(salt), 32, out,
                              sizeof(out)) != ARGON2_OK) {
        fprintf(stderr, "xc-passwd: hashing failed\n");
        return 1;
    }
    memset(pw, 0, sizeof(pw));
    puts(out);
    return 0;
}
