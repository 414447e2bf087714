/*
 * ctl_run — see ctl_run.h.
 */
#include "ctl_run.h"
#include "pls_client.h"
#include "pls_time.h"

#include <errno.h>
#include <string.h>
#include <time.h>

/* Send once; resend only after a 503 (the broker applied nothing then), with
 * backoff, while time is left. The last 503 is handed to the caller. */
static int call_once(pls_client_t *c, Pls__Envelope *env, int timeout_ms, Pls__Envelope **reply)
{
    int64_t deadline = pls_mono_ms() + timeout_ms;
    int backoff = 100;
    for (;;) {
        int64_t left = deadline - pls_mono_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        int rc = pls_client_call(c, env, (int)left, reply);
        if (rc || (*reply)->reply->status != PLS_UNAVAILABLE)
            return rc;
        if (pls_mono_ms() + backoff >= deadline)
            return 0;
        pls_proto_free(*reply);
        *reply = NULL;
        struct timespec ts = {0, (long)backoff * 1000000L};
        nanosleep(&ts, NULL);
        if (backoff < 1000)
            backoff *= 2;
    }
}

int ctl_run_call(void *ctx, const char *endpoint, Pls__Envelope *env, ctl_send_t send,
                 int timeout_ms, Pls__Envelope **reply, char *err, size_t errsz)
{
    PLS_UNUSED(ctx);
    pls_client_t *c = pls_client_new(endpoint, err, errsz);
    if (!c)
        return -EINVAL;
    int rc = send == CTL_SEND_RETRY ? pls_client_call_retry(c, env, timeout_ms, reply)
                                    : call_once(c, env, timeout_ms, reply);
    pls_client_destroy(&c);
    return rc;
}

static int help_command(int argc, char **argv, const ctl_io_t *io)
{
    if (argc < 2) {
        ctl_cmd_help_main(io->out);
        return CTL_EXIT_OK;
    }
    const ctl_cmd_t *cmd = ctl_cmd_find(argv[1]);
    if (!cmd) {
        fprintf(io->err, "plsctl: help: unknown command '%s' (plsctl --help lists them)\n",
                argv[1]);
        return CTL_EXIT_USAGE;
    }
    ctl_cmd_help(cmd, io->out);
    return CTL_EXIT_OK;
}

/* Print a 200 answer. */
static int print_reply(const ctl_req_t *r, const Pls__Reply *rep, const ctl_io_t *io)
{
    char err[256];
    switch (r->out) {
    case CTL_OUT_SUBMIT:
        ctl_out_submit(io->out, io->err, rep, r->json);
        return CTL_EXIT_OK;
    case CTL_OUT_ACTION: {
        char target[256];
        if (r->action.order && *r->action.order)
            snprintf(target, sizeof(target), "%s", r->action.order);
        else
            snprintf(target, sizeof(target), "%s %s", r->action.dept, r->action.scope);
        ctl_out_action(io->out, r->what, target, rep, r->json);
        return CTL_EXIT_OK;
    }
    default:
        if (ctl_out_query(io->out, r->out, rep->json, r->json, err, sizeof(err)) != 0) {
            fprintf(io->err, "plsctl: %s\n", err);
            return CTL_EXIT_REFUSED;
        }
        return CTL_EXIT_OK;
    }
}

int ctl_run(ctl_args_t *global, int argc, char **argv, const ctl_io_t *io)
{
    if (argc >= 1 && strcmp(argv[0], "help") == 0)
        return help_command(argc, argv, io);

    ctl_req_t r;
    ctl_req_init(&r);
    char err[640];
    int rc = ctl_cmd_build(&r, global, argc, argv, io->in, err, sizeof(err));
    if (rc) {
        fprintf(io->err, "plsctl: %s\n", err);
        if (r.cmd)
            fprintf(io->err, "(plsctl %s --help explains it)\n", ctl_cmd_name(r.cmd));
        goto done;
    }
    if (r.help) {
        ctl_cmd_help(r.cmd, io->out);
        goto done;
    }

    Pls__Envelope *reply = NULL;
    char cerr[256] = "";
    int crc = io->call(io->ctx, r.broker, &r.env, r.send, r.timeout_ms, &reply, cerr, sizeof(cerr));
    if (crc == -EINVAL) {
        fprintf(io->err, "plsctl: --broker: %s\n", cerr);
        rc = CTL_EXIT_USAGE;
    } else if (crc == -ETIMEDOUT) {
        fprintf(io->err, "plsctl: no answer from %s within %g s\n", r.broker, r.timeout_s);
        rc = CTL_EXIT_UNREACHABLE;
    } else if (crc) {
        fprintf(io->err, "plsctl: could not talk to %s: %s\n", r.broker, strerror(-crc));
        rc = CTL_EXIT_UNREACHABLE;
    } else if (reply->reply->status != PLS_OK) {
        fprintf(io->err, "plsctl: %u %s\n", reply->reply->status, reply->reply->reason);
        rc = CTL_EXIT_REFUSED;
    } else {
        rc = print_reply(&r, reply->reply, io);
    }
    pls_proto_free(reply);
done:
    ctl_req_cleanup(&r);
    return rc;
}
