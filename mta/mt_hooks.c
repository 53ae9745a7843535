/*
 * NAME
 *   mt_hooks - decisions taken when a message is delivered to a mailbox
 *
 * DESCRIPTION
 *   Where a local copy goes. Today that is the junk decision of
 *   [MS-OXCSPAM]: a message whose spam confidence level (the
 *   X-MS-Exchange-Organization-SCL field an upstream filter or Exchange
 *   wrote, -1..9; or X-Spam-Flag: YES as SpamAssassin writes it, taken as
 *   9) is at least junk_scl goes to the recipient's Junk E-mail folder, as
 *   Exchange's SCLJunkThreshold does; everything else to the Inbox. A low
 *   or negative SCL never lets a message past anything (nothing here
 *   trusts it). Server-side rules ([MS-OXORULE]) run here too once the
 *   store has them: they see the message and the recipient and answer the
 *   folder (or a copy, a forward, a reply).
 *
 *   Pure: only the header section of the bytes is read
 *   (xc_smtp_header_field).
 */
#include "mt.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int mt_hooks_folder(const uint8_t *p, size_t n)
{
    char v[64];
    int scl = -2;

    if (xc_smtp_header_field(p, n, "X-MS-Exchange-Organization-SCL", v,
                             sizeof(v)) == 0) {
        char *end;
        long x = strtol(v, &end, 10);
        while (*end == ' ' || *end == '\t')
            end++;
        if (end != v && *end == '\0' && x >= -1 && x <= 9)
            scl = (int)x;
    }
    if (xc_smtp_header_field(p, n, "X-Spam-Flag", v, sizeof(v)) == 0) {
        const char *s = v;
        while (*s == ' ' || *s == '\t')
            s++;
        if (strncasecmp(s, "YES", 3) == 0)
            scl = 9;
    }
    return mt_config->junk_scl > 0 && scl >= mt_config->junk_scl
               ? MT_FOLDER_JUNK : MT_FOLDER_INBOX;
}
