/*
 * ctl_cmd — plsctl's commands: their options and help texts, and the
 * translation of one command line into one request Envelope (DESIGN §3).
 *
 *     argv ──ctl_args──▶ options ──builder──▶ ctl_req_t (Envelope + settings)
 *                                               │ pls_proto_validate, reasons
 *                                               ▼ renamed to the flags
 *                                            ctl_run sends it
 *
 * submit → SubmitRequest; show, status, list → QueryRequest; every other
 * command → ActionRequest with its Verb. Everything a user can get wrong is
 * found here, before anything is sent, and reported naming the flag (exit 2).
 * Nothing here touches the network, so all of it is unit-tested.
 */
#ifndef CTL_CMD_H
#define CTL_CMD_H

#include "ctl_args.h"
#include "ctl_out.h"
#include "pls_proto.h"

#include <stdio.h>

/* Exit codes (DESIGN §3). */
enum {
    CTL_EXIT_OK = 0,
    CTL_EXIT_REFUSED = 1,     /* the broker answered a status other than 200 */
    CTL_EXIT_USAGE = 2,       /* bad command line; nothing was sent */
    CTL_EXIT_UNREACHABLE = 3, /* no answer within --timeout */
};

#define CTL_DEFAULT_BROKER "tcp://127.0.0.1:7700"
#define CTL_DEFAULT_TIMEOUT_S 5

/* How a request may be resent (DESIGN §3): submits carry an idempotency key
 * and queries change nothing, so both are resent on a timeout; other actions
 * only when the broker answered 503 (it applied nothing then). */
typedef enum ctl_send {
    CTL_SEND_RETRY,    /* resend on timeout and on 503, within --timeout */
    CTL_SEND_ONLY_503, /* send once, resend only after a 503 */
} ctl_send_t;

typedef struct ctl_cmd ctl_cmd_t;

/* One request built from a command line. Embed it, _init, ctl_cmd_build,
 * _cleanup. String fields of the messages are borrowed from argv or owned by
 * the request (see keep). */
typedef struct ctl_req {
    const ctl_cmd_t *cmd; /* borrowed; the command given */
    int help;             /* --help was asked: print ctl_cmd_help(cmd), send nothing */

    /* settings from the global options and the environment */
    const char *broker;           /* borrowed: --broker, $PLS_BROKER or the default */
    char actor[PLS_MAX_NAME + 1]; /* --operator, $PLS_OPERATOR or the OS user */
    double timeout_s;             /* --timeout */
    int timeout_ms;               /* the same in milliseconds, at least 1 */
    int json;                     /* --json */
    char key[PLS_MAX_KEY + 1];    /* submit: the idempotency key sent */
    int key_generated;            /* submit: key made here (no --key) */
    char what[48];                /* the command as typed: "extension approve" */
    ctl_send_t send;              /* resend policy */
    ctl_out_kind_t out;           /* how the reply is printed */

    /* the message; body points at one of the embedded requests */
    Pls__Envelope env;
    Pls__SubmitRequest submit;
    Pls__Citizen citizen;
    Pls__OrderFields fields;
    Pls__ActionRequest action;
    Pls__Scores scores;
    Pls__QueryRequest query;
    Pls__ListFilter filter;

    /* which flag a message field came from, for validation reasons */
    const char *note_flag; /* the option that fills note: "reason", "text", ...; NULL: "note" */
    const char *dept_flag; /* "DEPT" when dept is positional (post); NULL: "--dept" */

    void **kept; /* owned array of owned allocations freed at cleanup */
    size_t n_kept;
} ctl_req_t;

/* The global options; main parses them, commands fall back to them. */
extern const ctl_opt_t ctl_global_opts[];

void ctl_req_init(ctl_req_t *r);
void ctl_req_cleanup(ctl_req_t *r);

/* Build r from argv (argv[0] is the command name; global holds the global
 * options parsed so far and receives any given after the command). `in` is
 * read for `--desc -`. Returns CTL_EXIT_OK (r->help may be set) or
 * CTL_EXIT_USAGE with err like "submit: missing --service CODE (...)". */
int ctl_cmd_build(ctl_req_t *r, ctl_args_t *global, int argc, char **argv, FILE *in, char *err,
                  size_t errsz) PLS_WUR;

/* Look a command up by name ("need-info"); NULL when unknown. */
const ctl_cmd_t *ctl_cmd_find(const char *name);
const char *ctl_cmd_name(const ctl_cmd_t *cmd);

/* The usage and help texts. */
void ctl_cmd_help_main(FILE *out);
void ctl_cmd_help(const ctl_cmd_t *cmd, FILE *out);

#endif
