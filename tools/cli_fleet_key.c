/* `edgeml [--site S] key`: the site's Ed25519 public key, the one every deploy is signed with,
 * to give to the nodes (edgemld --trusted-key $(edgeml key)). */
#include <stdio.h>
#include <string.h>

#include "cli_fleet.h"

int cli_key(int argc, char **argv)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else
            return cli_error(CLI_USAGE, "key: unexpected argument '%s' (see 'edgeml help key')",
                             argv[i]);
    }
    eml_manager *m = cli_fleet_open();
    if (!m)
        return CLI_FAIL;
    char hex[65];
    eml_manager_public_key(m, hex);
    if (json) {
        char path[2200];
        printf("{\"public_key\": \"%s\", \"file\": ", hex);
        snprintf(path, sizeof(path), "%s/site.pub", eml_manager_site_dir(m));
        cli_json_string(stdout, path);
        printf("}\n");
    } else {
        printf("%s\n", hex);
    }
    eml_manager_close(m);
    return CLI_OK;
}
