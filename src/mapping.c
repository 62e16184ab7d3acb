#include "compat.h"

#include "mapping.h"

static const char *const names[MAPPING_STATE_COUNT] = {
    [MAPPING_PENDING] = "pending",
    [MAPPING_INVITED] = "invited",
    [MAPPING_ACCEPTED] = "accepted",
    [MAPPING_BLOCKED] = "blocked",
    [MAPPING_REVERTED] = "reverted",
    [MAPPING_GONE] = "gone",
};

const char *mapping_state_name(enum mapping_state s)
{
    return (unsigned)s < MAPPING_STATE_COUNT ? names[s] : "unknown";
}

int mapping_state_parse(const char *name, enum mapping_state *out)
{
    for (int s = 0; s < MAPPING_STATE_COUNT; s++)
        if (!strcmp(names[s], name)) {
            *out = (enum mapping_state)s;
            return 0;
        }
    return -1;
}

bool mapping_state_is_external(enum mapping_state s)
{
    return s == MAPPING_PENDING || s == MAPPING_INVITED || s == MAPPING_ACCEPTED;
}
