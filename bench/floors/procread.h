/*
 * procread.h: what the two C floors (full-scan.c, tree-walk.c) share: the
 * procfs reads (one open/read/close into a caller's buffer, paths built in one
 * static buffer), the parsing of stat and of pid names, the sshd tests (comm,
 * post-auth title), and the command line and timed runs around them.
 *
 * Everything here is static: each floor is one standalone program (one .c
 * file, compiled on its own by bench/floors.ts), so a header of static
 * functions included by both is simpler than a third object file to link.
 * Both programs use every function in it (gcc -Wall -Werror would reject an
 * unused one).
 *
 * The includer defines _POSIX_C_SOURCE before any header, and FLOOR_NAME (its
 * program's name, the prefix of its error messages) before this one.
 */
#ifndef PROCREAD_H
#define PROCREAD_H

#ifndef FLOOR_NAME
#error "define FLOOR_NAME before including procread.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define READ_BUF 4096
#define PATH_BUF 4096

/* The counts a floor prints, those of its last run. */
struct counts {
  long processes, sshd, sessions, connections;
};

/*
 * The procfs root as given, and in path: its first rootlen bytes (no trailing
 * slash), followed by "/<pid>/..." as entry_path builds it.
 */
static const char *root_dir;
static char path[PATH_BUF];
static size_t rootlen;

static void die(const char *what) {
  fprintf(stderr, FLOOR_NAME ": %s: %s\n", what, strerror(errno));
  exit(1);
}

/* One open/read/close into buf (NUL-terminated); -1 if the file is gone or unreadable. */
static ssize_t read_once(const char *p, char *buf, size_t cap) {
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n;
  do {
    n = read(fd, buf, cap - 1);
  } while (n < 0 && errno == EINTR);
  close(fd);
  if (n < 0) return -1;
  buf[n] = '\0';
  return n;
}

/* <root>/<name>/<leaf> in the shared path buffer; NULL if too long. */
static const char *entry_path(const char *name, size_t namelen, const char *leaf) {
  size_t leaflen = strlen(leaf);
  if (rootlen + 1 + namelen + 1 + leaflen + 1 > PATH_BUF) return NULL;
  char *p = path + rootlen;
  *p++ = '/';
  memcpy(p, name, namelen);
  p += namelen;
  *p++ = '/';
  memcpy(p, leaf, leaflen + 1);
  return path;
}

/*
 * pid comm state ppid ...: comm between the first " (" and the last ")".
 * ppid may be NULL: that field is then neither checked nor read.
 */
static int parse_stat(char *buf, const char **comm, size_t *commlen, char *state, int *ppid) {
  char *open_paren = strstr(buf, " (");
  char *close_paren = strrchr(buf, ')');
  if (open_paren == NULL || close_paren == NULL || close_paren < open_paren + 2) return -1;
  if (close_paren[1] != ' ' || close_paren[2] == '\0') return -1;
  *comm = open_paren + 2;
  *commlen = (size_t)(close_paren - (open_paren + 2));
  *state = close_paren[2];
  if (ppid == NULL) return 0;
  if (close_paren[3] != ' ') return -1;
  char *end;
  long v = strtol(close_paren + 4, &end, 10);
  if (end == close_paren + 4) return -1;
  *ppid = (int)v;
  return 0;
}

/* The pid the len characters at name spell (a /proc entry, a list item); -1 if none. */
static int parse_pid(const char *name, size_t len) {
  long v = 0;
  if (len == 0 || len > 10) return -1;
  for (size_t i = 0; i < len; i++) {
    if (name[i] < '0' || name[i] > '9') return -1;
    v = v * 10 + (name[i] - '0');
  }
  return v <= 0 || v > 0x7fffffff ? -1 : (int)v;
}

static int is_sshd_comm(const char *comm, size_t len) {
  return (len == 4 && memcmp(comm, "sshd", 4) == 0) ||
         (len == 12 && memcmp(comm, "sshd-session", 12) == 0) ||
         (len == 9 && memcmp(comm, "sshd-auth", 9) == 0);
}

static int ends_with(const char *s, size_t len, const char *suffix) {
  size_t n = strlen(suffix);
  return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/*
 * A post-auth title: after "<progname>: " (sshd, sshd-session, sshd-auth),
 * not empty, not starting with "[", not ending with " [net]", " [priv]",
 * " [pam]", " [postauth]" or "@internal-sftp", and not a listener's
 * ("sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups" starts with no
 * bracket). E.g. "sshd: alice@pts/0,pts/3", "sshd-session: alice@notty",
 * "sshd: alice".
 */
static int is_postauth_title(const char *cmdline) {
  const char *t;
  if (strncmp(cmdline, "sshd: ", 6) == 0)
    t = cmdline + 6;
  else if (strncmp(cmdline, "sshd-session: ", 14) == 0)
    t = cmdline + 14;
  else if (strncmp(cmdline, "sshd-auth: ", 11) == 0)
    t = cmdline + 11;
  else
    return 0;
  size_t len = strlen(t);
  while (len > 0 && t[len - 1] == ' ') len--;
  if (len == 0 || t[0] == '[') return 0;
  if (ends_with(t, len, " [net]") || ends_with(t, len, " [priv]") || ends_with(t, len, " [pam]") ||
      ends_with(t, len, " [postauth]") || ends_with(t, len, "@internal-sftp"))
    return 0;
  return strstr(t, "[listener]") == NULL;
}

/*
 * The <procfs root> and <runs> arguments: sets root_dir and the path buffer
 * (with room for `room` bytes after the root) and returns the runs, or exits 2
 * with a message.
 */
static long parse_args(const char *root, const char *runs_arg, size_t room) {
  char *end;
  long runs = strtol(runs_arg, &end, 10);
  if (*end != '\0' || runs < 1 || runs > 10000000) {
    fprintf(stderr, FLOOR_NAME ": runs must be a positive integer, not %s\n", runs_arg);
    exit(2);
  }
  root_dir = root;
  rootlen = strlen(root);
  while (rootlen > 1 && root[rootlen - 1] == '/') rootlen--;
  if (rootlen + room > PATH_BUF) {
    fprintf(stderr, FLOOR_NAME ": root path too long\n");
    exit(2);
  }
  memcpy(path, root, rootlen);
  return runs;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/*
 * Calls run `runs` times, each timed with clock_gettime(CLOCK_MONOTONIC), and
 * prints the one JSON line: the last run's counts and every run's wall time.
 */
static void time_runs(long runs, struct counts (*run)(void)) {
  double *ms = malloc((size_t)runs * sizeof *ms);
  if (ms == NULL) die("malloc");
  struct counts c = {0, 0, 0, 0};
  for (long i = 0; i < runs; i++) {
    double t0 = now_ms();
    c = run();
    ms[i] = now_ms() - t0;
  }
  printf("{\"processes\":%ld,\"sshd\":%ld,\"sessions\":%ld,\"connections\":%ld,\"runs_ms\":[",
         c.processes, c.sshd, c.sessions, c.connections);
  for (long i = 0; i < runs; i++) printf(i ? ",%.6f" : "%.6f", ms[i]);
  printf("]}\n");
  free(ms);
}

#endif
