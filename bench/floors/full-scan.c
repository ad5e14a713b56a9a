/*
 * full-scan: the floor of a whole-procfs process scan, what any process
 * exporter must do to find sshd's processes.
 *
 * Each run lists every numeric entry of <root> (opendir/readdir), reads
 * <root>/<pid>/stat of each with one open/read/close into a stack buffer,
 * and takes comm (between the first " (" and the LAST ")": comm may hold
 * spaces and parentheses), state and ppid from it. For live processes (state
 * not Z or X) whose comm is sshd, sshd-session or sshd-auth it also reads
 * <pid>/cmdline, cut at its first NUL: sshd's process title. Then:
 *   - every process (zombies included) adds one to its parent's child count;
 *   - sessions = the sum of the child counts of the sshd processes with a
 *     post-auth title (see is_postauth_title in procread.h);
 *   - connections = the sshd processes, not listeners, whose parent is a
 *     listener (an sshd process whose title contains "[listener]") or not
 *     sshd at all (a per-connection `sshd -i`, pid 1's child).
 *
 * Why it is a floor: the syscalls (one getdents pass over the pid list and
 * open/read/close of every stat file, plus the sshd titles) are the least a
 * scan of all processes can make, and nothing else is done: no stdio on the
 * /proc reads, no allocation per process once the arrays have grown (the first
 * run), no strings built but the path, child counts kept only for the sshd
 * processes (the only parents the answer needs; same result as counting every
 * pid's children). The exporter's procfs scan is compared to this.
 *
 * Usage: full-scan <procfs root> <runs>
 * Prints one JSON line, the counts being those of the last run:
 *   {"processes":<stat files read per run>,"sshd":<live sshd processes>,
 *    "sessions":<sessions>,"connections":<connection roots>,"runs_ms":[...]}
 * Each run's wall time is measured with clock_gettime(CLOCK_MONOTONIC).
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#define FLOOR_NAME "full-scan"
#include "procread.h"

struct proc {
  int pid;
  int ppid;
};

struct sshd {
  int pid;
  int ppid;
  long children;
  int listener;
  int postauth;
};

static struct proc *procs;
static size_t nprocs, cap_procs;
static struct sshd *sshds;
static size_t nsshd, cap_sshd;

static int by_pid(const void *a, const void *b) {
  int x = ((const struct sshd *)a)->pid, y = ((const struct sshd *)b)->pid;
  return (x > y) - (x < y);
}

static struct sshd *find_sshd(int pid) {
  struct sshd key = {.pid = pid};
  return bsearch(&key, sshds, nsshd, sizeof *sshds, by_pid);
}

static struct counts scan(void) {
  struct counts c = {0, 0, 0, 0};
  nprocs = 0;
  nsshd = 0;
  DIR *dir = opendir(root_dir);
  if (dir == NULL) die(root_dir);
  struct dirent *de;
  while ((de = readdir(dir)) != NULL) {
    size_t namelen = strlen(de->d_name);
    int pid = parse_pid(de->d_name, namelen);
    if (pid < 0) continue;
    const char *p = entry_path(de->d_name, namelen, "stat");
    if (p == NULL) continue;
    char buf[READ_BUF];
    if (read_once(p, buf, sizeof buf) <= 0) continue; /* gone since readdir */
    const char *comm;
    size_t commlen;
    char state;
    int ppid;
    if (parse_stat(buf, &comm, &commlen, &state, &ppid) != 0) continue;
    c.processes++;
    if (nprocs == cap_procs) {
      cap_procs = cap_procs ? cap_procs * 2 : 1024;
      procs = realloc(procs, cap_procs * sizeof *procs);
      if (procs == NULL) die("realloc");
    }
    procs[nprocs++] = (struct proc){pid, ppid};
    if (state == 'Z' || state == 'X' || !is_sshd_comm(comm, commlen)) continue;

    p = entry_path(de->d_name, namelen, "cmdline");
    if (p == NULL || read_once(p, buf, sizeof buf) < 0) continue;
    /* buf is NUL-terminated by read_once: the title ends at the first NUL. */
    if (nsshd == cap_sshd) {
      cap_sshd = cap_sshd ? cap_sshd * 2 : 64;
      sshds = realloc(sshds, cap_sshd * sizeof *sshds);
      if (sshds == NULL) die("realloc");
    }
    sshds[nsshd++] = (struct sshd){pid, ppid, 0, strstr(buf, "[listener]") != NULL,
                                   is_postauth_title(buf)};
  }
  closedir(dir);

  c.sshd = (long)nsshd;
  qsort(sshds, nsshd, sizeof *sshds, by_pid);
  for (size_t i = 0; i < nprocs; i++) {
    struct sshd *parent = find_sshd(procs[i].ppid);
    if (parent != NULL) parent->children++;
  }
  for (size_t i = 0; i < nsshd; i++) {
    struct sshd *s = &sshds[i];
    if (s->postauth) c.sessions += s->children;
    if (!s->listener) {
      struct sshd *parent = find_sshd(s->ppid);
      if (parent == NULL || parent->listener) c.connections++;
    }
  }
  return c;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s <procfs root> <runs>\n", argv[0]);
    return 2;
  }
  time_runs(parse_args(argv[1], argv[2], 32), scan);
  return 0;
}
