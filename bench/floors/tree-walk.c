/*
 * tree-walk: the floor of the exporter's tree walk, only the reads it does.
 *
 * Instead of scanning every process, the exporter starts from sshd's
 * listener(s) and follows /proc/<pid>/task/<pid>/children down sshd's tree.
 * Each run, for every listener: read its stat and cmdline, then its children
 * file. For each child, recursively: read stat (skip it if gone, a zombie
 * (Z/X) or not sshd, sshd-session or sshd-auth by comm, reading nothing
 * more), read cmdline (the title, cut at its first NUL); if the title is a
 * post-auth title (see is_postauth_title in procread.h) read its children
 * file and count the pids listed there as its sessions WITHOUT reading those
 * processes, otherwise recurse into its children file. A live sshd child of a
 * listener is a connection root.
 *
 * Why it is a floor: these are the reads the walk cannot do without (stat to
 * know a child is live sshd, cmdline for its role, children to go down), each
 * one open/read/close into a stack buffer, and nothing else: no stdio on the
 * /proc reads, no allocation once the per-depth pid arrays have grown (the
 * first run), no strings built but the path. The exporter's walk is compared
 * to this.
 *
 * Settled connections, as the exporter re-reads them: a listener's child that
 * the previous run found to be a monitor (" [priv]", " [postauth]") whose
 * children were all post-auth processes is re-read from its stat (same start
 * time, not exited), then each post-auth child the previous run found: its
 * cmdline (still a post-auth title) and children file; no cmdline or children
 * file of the monitor and no stat of the post-auth children. When any of that
 * differs it is read whole, as above.
 *
 * Per-connection sshd (no listener): the exporter walks down from the
 * processes holding sshd's socket instead (pid 1, inetd). For each holder:
 * read its stat (the exporter checks its start time), then its children file,
 * and visit each child as a listener's child above: most are not sshd, and
 * cost one stat each.
 *
 * The children file (CONFIG_PROC_CHILDREN) lists the children of that one
 * thread, zombies included, as "pid pid " (space after each, no newline; empty
 * when there are none). A missing children file is read as no children.
 *
 * Usage: tree-walk <procfs root> <runs> [<listener pid>,...] [<holder pid>,...]
 * Without the third argument, one full scan before the timed runs finds the
 * listeners: live sshd processes whose title contains "[listener]". An empty
 * third argument means no listeners; the fourth names socket holders (none
 * without it). Prints one JSON line, the counts being
 * those of the last run:
 *   {"processes":<stat files read per run>,"sshd":<live sshd processes read>,
 *    "sessions":<sessions>,"connections":<connection roots>,"runs_ms":[...]}
 * Each run's wall time is measured with clock_gettime(CLOCK_MONOTONIC).
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLOOR_NAME "tree-walk"
#include "procread.h"

/* listener -> monitor -> post-auth is depth 2; the bound only guards odd fixture trees. */
#define CHILDREN_SHORT_READ_ENDS 2048

#define MAX_DEPTH 16

struct pids {
  int *v;
  size_t n, cap;
};

/* One pid array per depth, reused from run to run. */
static struct pids level[MAX_DEPTH + 1];
static struct pids listeners;
static struct pids holders;

/* The counts of the run under way. */
static struct counts c;

/* A settled monitor: the run that found it, its start time and post-auth children. */
#define MAX_SETTLED_KIDS 4
struct settled {
  long run;
  unsigned long long starttime;
  int nkids;
  int kids[MAX_SETTLED_KIDS];
};
static struct settled *settled; /* by pid */
static size_t settled_cap;
static long run_no;

static struct settled *settled_slot(int pid) {
  if ((size_t)pid >= settled_cap) {
    size_t cap = settled_cap ? settled_cap : 1024;
    while (cap <= (size_t)pid) cap *= 2;
    settled = realloc(settled, cap * sizeof *settled);
    if (settled == NULL) die("realloc");
    memset(settled + settled_cap, 0, (cap - settled_cap) * sizeof *settled);
    settled_cap = cap;
  }
  return &settled[pid];
}

/* Field 22 of a stat line (after the comm's last ')', the 20th field); 0 if there is none. */
static unsigned long long stat_starttime(const char *buf) {
  const char *p = strrchr(buf, ')');
  if (p == NULL) return 0;
  for (int field = 2; field < 22; field++) {
    p = strchr(p + 1, ' ');
    if (p == NULL) return 0;
  }
  return strtoull(p + 1, NULL, 10);
}

static int is_monitor_title(const char *cmdline) {
  size_t len = strlen(cmdline);
  while (len > 0 && cmdline[len - 1] == ' ') len--;
  return ends_with(cmdline, len, " [priv]") || ends_with(cmdline, len, " [postauth]");
}

static void push(struct pids *a, int pid) {
  if (a->n == a->cap) {
    a->cap = a->cap ? a->cap * 2 : 64;
    a->v = realloc(a->v, a->cap * sizeof *a->v);
    if (a->v == NULL) die("realloc");
  }
  a->v[a->n++] = pid;
}

/* <root>/<pid>/<leaf>, or <root>/<pid>/task/<pid>/children when children is set. */
static const char *pid_path(int pid, const char *leaf, int children) {
  char digits[16], name[48];
  size_t n = 0;
  do {
    digits[n++] = (char)('0' + pid % 10);
    pid /= 10;
  } while (pid > 0);
  size_t len = 0;
  for (size_t i = n; i > 0; i--) name[len++] = digits[i - 1];
  if (children) {
    memcpy(name + len, "/task/", 6);
    len += 6;
    for (size_t i = n; i > 0; i--) name[len++] = digits[i - 1];
  }
  return entry_path(name, len, leaf);
}

/*
 * Reads <pid>/task/<pid>/children: appends the pids to out, or only counts
 * them when out is NULL. Reads until EOF, or until a short read that ends
 * below CHILDREN_SHORT_READ_ENDS bytes in all, as the exporter does (a
 * listener's list can pass one buffer); a number cut between two reads is
 * carried over.
 */
static long read_children(int pid, struct pids *out) {
  const char *p = pid_path(pid, "children", 1);
  if (p == NULL) return 0;
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[READ_BUF];
  long count = 0, cur = 0, total = 0;
  int in_num = 0;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    total += n;
    for (ssize_t i = 0; i < n; i++) {
      char ch = buf[i];
      if (ch >= '0' && ch <= '9') {
        cur = cur * 10 + (ch - '0');
        in_num = 1;
      } else if (in_num) {
        if (out != NULL) push(out, (int)cur);
        count++;
        cur = 0;
        in_num = 0;
      }
    }
    if ((size_t)n < sizeof buf && total < CHILDREN_SHORT_READ_ENDS) break;
  }
  close(fd);
  if (in_num) {
    if (out != NULL) push(out, (int)cur);
    count++;
  }
  return count;
}

/*
 * Reads pid's stat; 1 and its title in buf if it is a live sshd process, else 0. Its start
 * time in *starttime when that is not NULL.
 */
static int read_sshd(int pid, char *buf, size_t cap, unsigned long long *starttime) {
  const char *p = pid_path(pid, "stat", 0);
  if (p == NULL || read_once(p, buf, cap) <= 0) return 0;
  const char *comm;
  size_t commlen;
  char state;
  if (parse_stat(buf, &comm, &commlen, &state, NULL) != 0) return 0;
  c.processes++;
  if (state == 'Z' || state == 'X' || !is_sshd_comm(comm, commlen)) return 0;
  if (starttime != NULL) *starttime = stat_starttime(buf);
  p = pid_path(pid, "cmdline", 0);
  if (p == NULL || read_once(p, buf, cap) < 0) return 0;
  c.sshd++;
  return 1;
}

/* A settled monitor re-read; 1 when it still is one (and counted), 0 to read it whole. */
static int visit_settled(int pid, int depth) {
  struct settled *s = settled_slot(pid);
  if (s->run != run_no - 1 || depth >= MAX_DEPTH) return 0;
  char buf[READ_BUF];
  const char *p = pid_path(pid, "stat", 0);
  if (p == NULL || read_once(p, buf, sizeof buf) <= 0) return 0;
  const char *comm;
  size_t commlen;
  char state;
  if (parse_stat(buf, &comm, &commlen, &state, NULL) != 0) return 0;
  if (state == 'Z' || state == 'X' || stat_starttime(buf) != s->starttime) return 0;
  long sessions = 0;
  for (int i = 0; i < s->nkids; i++) {
    p = pid_path(s->kids[i], "cmdline", 0);
    if (p == NULL || read_once(p, buf, sizeof buf) <= 0 || !is_postauth_title(buf)) return 0;
    sessions += read_children(s->kids[i], NULL);
  }
  c.processes += 1;
  c.sshd += 1 + (long)s->nkids;
  c.sessions += sessions;
  s->run = run_no;
  return 1;
}

/* One process below a listener; 1 if it was a live sshd process. */
static int visit(int pid, int depth) {
  char buf[READ_BUF];
  unsigned long long starttime;
  if (depth == 1 && visit_settled(pid, depth)) return 1;
  if (!read_sshd(pid, buf, sizeof buf, &starttime)) return 0;
  if (is_postauth_title(buf)) {
    c.sessions += read_children(pid, NULL);
    return 2;
  }
  if (depth < MAX_DEPTH) {
    int monitor = depth == 1 && is_monitor_title(buf);
    struct pids *kids = &level[depth];
    kids->n = 0;
    read_children(pid, kids);
    size_t postauth = 0;
    for (size_t i = 0; i < kids->n; i++) postauth += visit(kids->v[i], depth + 1) == 2;
    if (monitor && postauth > 0 && postauth == kids->n && kids->n <= MAX_SETTLED_KIDS) {
      struct settled *s = settled_slot(pid);
      s->run = run_no;
      s->starttime = starttime;
      s->nkids = (int)kids->n;
      for (size_t i = 0; i < kids->n; i++) s->kids[i] = kids->v[i];
    }
  }
  return 1;
}

static struct counts walk(void) {
  c = (struct counts){0, 0, 0, 0};
  run_no++;
  for (size_t i = 0; i < listeners.n; i++) {
    char buf[READ_BUF];
    if (!read_sshd(listeners.v[i], buf, sizeof buf, NULL)) continue;
    struct pids *kids = &level[0];
    kids->n = 0;
    read_children(listeners.v[i], kids);
    for (size_t j = 0; j < kids->n; j++) c.connections += visit(kids->v[j], 1) != 0;
  }
  for (size_t i = 0; i < holders.n; i++) {
    char buf[READ_BUF];
    const char *p = pid_path(holders.v[i], "stat", 0);
    if (p == NULL || read_once(p, buf, sizeof buf) <= 0) continue;
    c.processes++;
    struct pids *kids = &level[0];
    kids->n = 0;
    read_children(holders.v[i], kids);
    for (size_t j = 0; j < kids->n; j++) c.connections += visit(kids->v[j], 1) != 0;
  }
  return c;
}

/* A comma-separated pid list into a; exits 2 when it is not one. */
static void parse_pid_list(const char *s, struct pids *a) {
  const char *all = s;
  while (*s != '\0') {
    size_t len = strcspn(s, ",");
    int pid = parse_pid(s, len);
    if (pid < 0) {
      fprintf(stderr, "tree-walk: not a pid list: %s\n", all);
      exit(2);
    }
    push(a, pid);
    s += len;
    if (*s == ',') s++;
  }
}

/* The untimed full scan: live sshd processes whose title contains "[listener]". */
static void find_listeners(void) {
  DIR *dir = opendir(root_dir);
  if (dir == NULL) die(root_dir);
  struct dirent *de;
  while ((de = readdir(dir)) != NULL) {
    int pid = parse_pid(de->d_name, strlen(de->d_name));
    char buf[READ_BUF];
    if (pid > 0 && read_sshd(pid, buf, sizeof buf, NULL) && strstr(buf, "[listener]") != NULL)
      push(&listeners, pid);
  }
  closedir(dir);
}

int main(int argc, char **argv) {
  if (argc < 3 || argc > 5) {
    fprintf(stderr, "usage: %s <procfs root> <runs> [<listener pid>,...] [<holder pid>,...]\n",
            argv[0]);
    return 2;
  }
  long runs = parse_args(argv[1], argv[2], 64);

  if (argc >= 4) {
    parse_pid_list(argv[3], &listeners);
    if (argc == 5) parse_pid_list(argv[4], &holders);
  } else {
    find_listeners();
  }

  time_runs(runs, walk);
  return 0;
}
