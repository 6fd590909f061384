/* Connects to a unix socket in a tight loop for argv[2] seconds and prints the
 * status line of every HTTP answer it gets: the racer of hostile_input_test.ts,
 * run as an unprivileged user while volantd binds its socket. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strncpy(addr.sun_path, argv[1], sizeof addr.sun_path - 1);
  time_t end = time(NULL) + atoi(argv[2]);
  const char *req = "GET /api/v1/system/info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  while (time(NULL) < end) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
      char status[13] = {0};
      if (write(fd, req, strlen(req)) > 0 && read(fd, status, 12) > 0) {
        printf("%s\n", status);
        fflush(stdout);
      }
    }
    if (fd >= 0) close(fd);
  }
  return 0;
}
