/*
 * bn_child — see bn_child.h.
 */
#include "bn_child.h"

#include "pls_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static int try_path(const char *dir, const char *rel, char *out, size_t outsz)
{
    char p[PATH_MAX];
    int n = snprintf(p, sizeof(p), "%s/%s", dir, rel);
    if (n < 0 || (size_t)n >= sizeof(p) || !executable(p))
        return -ENOENT;
    if ((size_t)snprintf(out, outsz, "%s", p) >= outsz)
        return -ENOENT;
    return 0;
}

int bn_child_find_broker(char *out, size_t outsz)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            if (try_path(self, "../broker/pls-broker", out, outsz) == 0 ||
                try_path(self, "pls-broker", out, outsz) == 0)
                return 0;
        }
    }
    const char *path = getenv("PATH");
    if (!path)
        return -ENOENT;
    char *copy = pls_xstrdup(path), *save = NULL;
    int rc = -ENOENT;
    for (char *d = strtok_r(copy, ":", &save); d && rc; d = strtok_r(NULL, ":", &save))
        if (*d)
            rc = try_path(d, "pls-broker", out, outsz);
    free(copy);
    return rc;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The endpoint of the last "listening on tcp://..." line of the log. */
static int read_endpoint(const char *log, char *out, size_t outsz)
{
    FILE *f = fopen(log, "r");
    if (!f)
        return -errno;
    char line[1024];
    int found = -EAGAIN;
    while (fgets(line, sizeof(line), f)) {
        const char *p = strstr(line, "listening on ");
        if (!p)
            continue;
        p += strlen("listening on ");
        size_t len = strcspn(p, " \t\r\n");
        if (len == 0 || len >= outsz)
            continue;
        memcpy(out, p, len);
        out[len] = '\0';
        found = 0;
    }
    fclose(f);
    return found;
}

/* The last bytes of the log (at most outsz - 1), for an error message. */
static void log_tail(const char *log, char *out, size_t outsz)
{
    out[0] = '\0';
    FILE *f = fopen(log, "r");
    if (!f)
        return;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f), want = (long)outsz - 1;
        if (size >= 0 && fseek(f, size > want ? size - want : 0, SEEK_SET) == 0) {
            size_t n = fread(out, 1, outsz - 1, f);
            out[n] = '\0';
        }
    }
    fclose(f);
}

int bn_child_start(bn_child_t *c, const char *bin, const char *node, const char *db,
                   const char *parent_ep, const char *log_path, int timeout_ms, char *err,
                   size_t errsz)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->log, sizeof(c->log), "%s", log_path);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errsz, "could not open broker log %s: %s", log_path, strerror(errno));
        return -errno;
    }
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fd);
        if (null_fd >= 0)
            close(null_fd);
        snprintf(err, errsz, "could not start %s: %s", bin, strerror(e));
        return -e;
    }
    if (pid == 0) {
        /* the child: async-signal-safe calls only until exec */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        if (null_fd >= 0)
            dup2(null_fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        char *argv[] = {(char *)(uintptr_t)bin,
                        "--node",
                        (char *)(uintptr_t)node,
                        "--listen",
                        "tcp://127.0.0.1:*",
                        "--db",
                        (char *)(uintptr_t)db,
                        "--insecure",
                        parent_ep ? "--parent" : NULL,
                        (char *)(uintptr_t)parent_ep,
                        NULL};
        execv(bin, argv);
        static const char msg[] = "pls-bench: could not execute pls-broker\n";
        ssize_t w = write(2, msg, sizeof(msg) - 1);
        (void)w;
        _exit(127);
    }
    close(fd);
    if (null_fd >= 0)
        close(null_fd);
    c->pid = pid;
    for (int waited = 0;; waited += 20) {
        if (read_endpoint(log_path, c->endpoint, sizeof(c->endpoint)) == 0)
            return 0;
        if (!bn_child_alive(c)) {
            char tail[1024];
            log_tail(log_path, tail, sizeof(tail));
            snprintf(err, errsz, "pls-broker exited while starting; its log (%s) ends:\n%s",
                     log_path, tail);
            return -ECHILD;
        }
        if (waited >= timeout_ms) {
            char tail[1024];
            log_tail(log_path, tail, sizeof(tail));
            snprintf(err, errsz, "pls-broker not listening after %d ms; its log (%s) ends:\n%s",
                     timeout_ms, log_path, tail);
            bn_child_stop(c, 5000);
            return -ETIMEDOUT;
        }
        sleep_ms(20);
    }
}

int bn_child_alive(bn_child_t *c)
{
    if (c->pid <= 0)
        return 0;
    int st;
    pid_t r = waitpid(c->pid, &st, WNOHANG);
    if (r == c->pid) {
        c->pid = 0;
        c->status = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
        return 0;
    }
    return 1;
}

int bn_child_stop(bn_child_t *c, int timeout_ms)
{
    if (c->pid <= 0)
        return -1;
    kill(c->pid, SIGTERM);
    int st = 0;
    for (int waited = 0;; waited += 10) {
        pid_t r = waitpid(c->pid, &st, WNOHANG);
        if (r == c->pid)
            break;
        if (r < 0 && errno != EINTR) {
            c->pid = 0;
            return -1;
        }
        if (waited >= timeout_ms) {
            pls_warn("pls-broker (pid %ld) still running %d ms after SIGTERM: killing it",
                     (long)c->pid, timeout_ms);
            kill(c->pid, SIGKILL);
            while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
                ;
            break;
        }
        sleep_ms(10);
    }
    c->pid = 0;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return -1;
}

long bn_proc_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t flen = strlen(field);
    long kb = -1;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
            kb = strtol(line + flen + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

double bn_proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* fields after the command name "(...)": state is field 3, utime 14, stime 15 */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    unsigned long utime = 0, stime = 0;
    int field = 2;
    char *save = NULL;
    for (char *tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        field++;
        if (field == 14)
            utime = strtoul(tok, NULL, 10);
        else if (field == 15) {
            stime = strtoul(tok, NULL, 10);
            break;
        }
    }
    long hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? (double)(utime + stime) / (double)hz : -1;
}
