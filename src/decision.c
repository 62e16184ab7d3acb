#include "compat.h"

#include <strings.h>

#include "decision.h"

static const char *const names[DECISION_COUNT] = {
    [DECISION_MEMBER] = "member",
    [DECISION_EXTERNAL_MEMBER] = "external-member",
    [DECISION_EXTERNAL_GUEST] = "external-guest",
    [DECISION_CONTACT] = "contact",
    [DECISION_EXCLUDE] = "exclude",
};

const char *decision_name(enum decision d)
{
    return (unsigned)d < DECISION_COUNT ? names[d] : "unknown";
}

int decision_parse_n(const char *name, size_t len, enum decision *out)
{
    for (int d = 0; d < DECISION_COUNT; d++)
        if (strlen(names[d]) == len && !strncasecmp(names[d], name, len)) {
            *out = (enum decision)d;
            return 0;
        }
    return -1;
}

int decision_parse(const char *name, enum decision *out)
{
    return decision_parse_n(name, strlen(name), out);
}

bool decision_is_external(enum decision d)
{
    return d == DECISION_EXTERNAL_MEMBER || d == DECISION_EXTERNAL_GUEST;
}

enum user_type decision_user_type(enum decision d)
{
    switch (d) {
    case DECISION_EXTERNAL_MEMBER: return USER_TYPE_MEMBER;
    case DECISION_EXTERNAL_GUEST: return USER_TYPE_GUEST;
    default: return USER_TYPE_NONE;
    }
}

const char *user_type_name(enum user_type t)
{
    switch (t) {
    case USER_TYPE_MEMBER: return "Member";
    case USER_TYPE_GUEST: return "Guest";
    default: return "";
    }
}

int user_type_parse(const char *name, enum user_type *out)
{
    if (!strcasecmp(name, "Member"))
        *out = USER_TYPE_MEMBER;
    else if (!strcasecmp(name, "Guest"))
        *out = USER_TYPE_GUEST;
    else if (!*name || !strcmp(name, "-"))
        *out = USER_TYPE_NONE;
    else
        return -1;
    return 0;
}
