/*
 * Error texts: tern_strerror() maps every TERN_* code in include/tern/err.h to a short English
 * phrase for log lines. The table is const and the function never fails: an unknown code gets
 * a fixed "unknown error" text, so callers can pass any int straight from a return value.
 */
#include "tern/err.h"

/*
 * Returns a static, NUL-terminated string describing err. The caller must not free or modify
 * it. Positive values and codes not in err.h give "unknown error".
 */
const char *tern_strerror(int err)
{
    switch (err) {
    case TERN_OK:
        return "success";
    case TERN_EAGAIN:
        return "not enough bytes yet or operation would block";
    case TERN_EMALFORMED:
        return "malformed packet";
    case TERN_EPROTO:
        return "protocol violation";
    case TERN_ENOMEM:
        return "out of memory or memory limit reached";
    case TERN_ETOOBIG:
        return "packet exceeds the size limit";
    case TERN_EIO:
        return "system call failed";
    case TERN_ECONF:
        return "configuration error";
    case TERN_ELIMIT:
        return "configured limit reached";
    case TERN_ENOTFOUND:
        return "no such entry";
    case TERN_EINVAL:
        return "invalid argument";
    case TERN_ECLOSED:
        return "connection closed by peer";
    default:
        return "unknown error";
    }
}
