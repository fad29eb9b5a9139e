/*
 * tern: parse the command line (Mosquitto's: -c FILE, -p PORT, -v, -h, --version), load the
 * configuration, run the broker. Exit status: 0 after a clean stop, 1 when start-up or the
 * loop fails, 2 for a configuration or usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "tern/err.h"
#include "tern/tern.h"

static void usage(FILE *f)
{
    fprintf(f,
            "tern version %s: an MQTT 3.1.1 broker.\n\n"
            "Usage: tern [-c config_file] [-p port] [-v] [-h] [--version]\n\n"
            " -c : read the configuration from a file (Mosquitto syntax). Without it Tern\n"
            "      listens on 127.0.0.1:1883 only, anonymous clients allowed.\n"
            " -p : listen on this port on all addresses (may be given several times).\n"
            " -v : verbose logging (every log type to stderr).\n"
            " -h : show this help.\n"
            " --version : print the version.\n",
            TERN_VERSION);
}

static void warn_cb(void *ctx, const char *message)
{
    fprintf(stderr, "tern: warning: %s\n", message);
}

static int parse_port(const char *s, uint16_t *port)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 1 || v > 65535)
        return TERN_EINVAL;
    *port = (uint16_t)v;
    return TERN_OK;
}

/* Mosquitto 2.0's rule: with no listener configured, listen on loopback only and allow
 * anonymous clients unless the file said otherwise. */
static int apply_local_default(struct conf *c)
{
    if (c->n_listeners > 0)
        return TERN_OK;
    if (!c->allow_anonymous_set)
        c->allow_anonymous = true;
    return conf_add_listener(c, 1883, "127.0.0.1");
}

int main(int argc, char **argv)
{
    struct conf conf;
    const char *path = NULL;
    bool verbose = false;
    char err[1024];
    conf_init(&conf);
    uint16_t ports[16];
    size_t n_ports = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("tern version %s\n", TERN_VERSION);
            return 0;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            verbose = true;
        } else if ((strcmp(a, "-c") == 0 || strcmp(a, "--config-file") == 0) && i + 1 < argc) {
            path = argv[++i];
        } else if ((strcmp(a, "-p") == 0 || strcmp(a, "--port") == 0) && i + 1 < argc &&
                   n_ports < 16) {
            if (parse_port(argv[++i], &ports[n_ports++]) != TERN_OK) {
                fprintf(stderr, "tern: invalid port '%s'\n", argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "tern: unknown or incomplete option '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (path != NULL &&
        conf_load_file(&conf, path, err, sizeof err, warn_cb, NULL) != TERN_OK) {
        fprintf(stderr, "tern: %s\n", err);
        conf_cleanup(&conf);
        return 2;
    }
    for (size_t i = 0; i < n_ports; i++) {
        if (conf_add_listener(&conf, ports[i], NULL) != TERN_OK) {
            fprintf(stderr, "tern: out of memory\n");
            return 1;
        }
        if (!conf.allow_anonymous_set && path == NULL)
            conf.allow_anonymous = true;
    }
    if (apply_local_default(&conf) != TERN_OK) {
        fprintf(stderr, "tern: %s\n", err);
        conf_cleanup(&conf);
        return 2;
    }
    if (verbose) {
        conf.log_type = CONF_LOGT_ALL;
        conf.log_dest |= CONF_LOG_STDERR;
    }
    struct tern_broker *b = tern_broker_new(&conf, path, err, sizeof err);
    if (b == NULL) {
        fprintf(stderr, "tern: %s\n", err);
        conf_cleanup(&conf);
        return 1;
    }
    int rc = tern_broker_run(b);
    tern_broker_free(b);
    conf_cleanup(&conf);
    return rc == TERN_OK ? 0 : 1;
}
