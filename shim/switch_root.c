/* Switch root as kestrel's MountTable.switchRoot does (agent/mounts.ts): mount
 * /dev/<device> on /mnt/root, move /proc /sys /dev /run /tmp /volant/agent
 * (those that are mount points) under it, free the initramfs (its files are
 * unreachable afterwards), then make it / and chroot. kestrel
 * is told (VOLANT_SHIM root=1) so it does not switch again and still makes
 * the disk read-only at poweroff. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

#define NEW_ROOT "/mnt/root"
#define DEV_WAIT_MS 5000

#define RAMFS_MAGIC 0x858458f6
#define TMPFS_MAGIC 0x01021994

/* Deletes what `dirfd` holds on device `dev`, never crossing into another
 * filesystem (the moved mounts, the new root): the initramfs is unreachable
 * after the switch and would otherwise keep its memory, as busybox
 * switch_root also does. Best effort: an entry that cannot go stays. */
static void delete_tree(int dirfd, dev_t dev) {
	DIR *d = fdopendir(dirfd);
	if (!d) {
		close(dirfd);
		return;
	}
	for (struct dirent *e; (e = readdir(d));) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
		struct stat st;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || st.st_dev != dev) continue;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0) delete_tree(sub, dev);
			unlinkat(dirfd, e->d_name, AT_REMOVEDIR);
		} else {
			unlinkat(dirfd, e->d_name, 0);
		}
	}
	closedir(d);
}

static void free_initramfs(void) {
	struct statfs fs;
	struct stat st;
	if (statfs("/", &fs) != 0 || stat("/", &st) != 0) return;
	if ((unsigned long)fs.f_type != RAMFS_MAGIC && (unsigned long)fs.f_type != TMPFS_MAGIC) return;
	int root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root >= 0) delete_tree(root, st.st_dev);
}

static const char *moved[] = {"/proc", "/sys", "/dev", "/run", "/tmp", "/volant/agent"};

/* A mount point: its device differs from its parent's (enough for these fixed paths). */
static int is_mount_point(const char *path) {
	struct stat st, parent;
	char up[64];
	snprintf(up, sizeof up, "%s/..", path);
	return stat(path, &st) == 0 && stat(up, &parent) == 0 && st.st_dev != parent.st_dev;
}

int switch_root(const char *device, const char *fstype, char *why, size_t why_size) {
	char dev[64];
	snprintf(dev, sizeof dev, "/dev/%s", device);
	struct timespec tick = {0, 5 * 1000 * 1000};
	for (int waited = 0; access(dev, F_OK) != 0; waited += 5) {
		if (waited >= DEV_WAIT_MS) {
			snprintf(why, why_size, "rootfs: %s did not appear in %d ms", dev, DEV_WAIT_MS);
			return -1;
		}
		nanosleep(&tick, NULL);
	}
	mkdir("/mnt", 0755);
	mkdir(NEW_ROOT, 0755);
	if (mount(dev, NEW_ROOT, fstype, MS_RELATIME, NULL) != 0) {
		snprintf(why, why_size, "rootfs: mount %s (%s): %s", dev, fstype, strerror(errno));
		return -1;
	}
	char target[96];
	for (size_t i = 0; i < sizeof moved / sizeof moved[0]; i++) {
		if (!is_mount_point(moved[i])) continue;
		snprintf(target, sizeof target, NEW_ROOT "%s", moved[i]);
		if (strcmp(moved[i], "/volant/agent") == 0) mkdir(NEW_ROOT "/volant", 0755);
		mkdir(target, 0755);
		if (mount(moved[i], target, NULL, MS_MOVE, NULL) != 0) {
			snprintf(why, why_size, "rootfs: move %s: %s", moved[i], strerror(errno));
			return -2;
		}
	}
	free_initramfs();
	if (chdir(NEW_ROOT) != 0 || mount(".", "/", NULL, MS_MOVE, NULL) != 0 || chroot(".") != 0 ||
	    chdir("/") != 0) {
		snprintf(why, why_size, "rootfs: make %s the root: %s", NEW_ROOT, strerror(errno));
		return -2;
	}
	return 0;
}
