#include "compat.h"

#include <strings.h>

#include "cloud.h"

static const struct {
    const char *name, *login, *graph;
} clouds[CLOUD_COUNT] = {
    [CLOUD_GLOBAL] = { "global", "login.microsoftonline.com", "graph.microsoft.com" },
    [CLOUD_USGOV_HIGH] = { "usgov-high", "login.microsoftonline.us", "graph.microsoft.us" },
    [CLOUD_USGOV_DOD] = { "usgov-dod", "login.microsoftonline.us", "dod-graph.microsoft.us" },
    /* the Graph deployments page names login.chinacloudapi.cn; the Entra page
     * names login.partner.microsoftonline.cn: both answer for 21Vianet */
    [CLOUD_CHINA] = { "china", "login.chinacloudapi.cn", "microsoftgraph.chinacloudapi.cn" },
};

int cloud_parse(const char *name, enum cloud *out)
{
    for (int c = 0; c < CLOUD_COUNT; c++)
        if (!strcasecmp(name, clouds[c].name)) {
            *out = (enum cloud)c;
            return 0;
        }
    return -1;
}

const char *cloud_name(enum cloud c) { return clouds[c].name; }
const char *cloud_login_host(enum cloud c) { return clouds[c].login; }
const char *cloud_graph_host(enum cloud c) { return clouds[c].graph; }
