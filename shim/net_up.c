/* The guest network from volant.ip / volant.gw / volant.mtu / volant.hostname,
 * through classic ioctls (no netlink encoder in C): lo up; eth0 MTU, address,
 * netmask, broadcast, up; the default route; the hostname. kestrel later runs
 * its own netlink setup, which finds all of this in place (EEXIST is fine
 * there), plus /etc/hosts and /etc/resolv.conf. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

#define IFACE "eth0"
#define IFACE_WAIT_MS 5000

static int set_up(int s, const char *name, int mtu) {
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (mtu > 0) {
		ifr.ifr_mtu = mtu;
		if (ioctl(s, SIOCSIFMTU, &ifr) != 0) return -1;
	}
	if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) return -1;
	ifr.ifr_flags |= IFF_UP;
	return ioctl(s, SIOCSIFFLAGS, &ifr);
}

static int set_addr(int s, unsigned long req, struct in_addr a) {
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	strncpy(ifr.ifr_name, IFACE, IFNAMSIZ - 1);
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	sin->sin_family = AF_INET;
	sin->sin_addr = a;
	return ioctl(s, req, &ifr);
}

static int add_default_route(int s, struct in_addr gw) {
	struct rtentry rt;
	memset(&rt, 0, sizeof rt);
	struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst;
	struct sockaddr_in *mask = (struct sockaddr_in *)&rt.rt_genmask;
	struct sockaddr_in *via = (struct sockaddr_in *)&rt.rt_gateway;
	dst->sin_family = mask->sin_family = via->sin_family = AF_INET;
	via->sin_addr = gw;
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	rt.rt_dev = IFACE;
	return ioctl(s, SIOCADDRT, &rt) != 0 && errno != EEXIST ? -1 : 0;
}

static int wait_iface(void) {
	struct timespec tick = {0, 5 * 1000 * 1000};
	for (int waited = 0; if_nametoindex(IFACE) == 0; waited += 5) {
		if (waited >= IFACE_WAIT_MS) return -1;
		nanosleep(&tick, NULL);
	}
	return 0;
}

int net_up(char *why, size_t why_size) {
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		snprintf(why, why_size, "socket: %s", strerror(errno));
		return -1;
	}
	int rc = -1;
	const char *step = "set lo up";
	if (set_up(s, "lo", 0) != 0) goto out;
	const char *ip = boot_arg("volant.ip");
	if (ip && *ip) {
		char addr[32];
		const char *slash = strchr(ip, '/');
		size_t alen = slash ? (size_t)(slash - ip) : 0;
		int prefix = slash ? atoi(slash + 1) : -1;
		struct in_addr a, m, b, g;
		step = "parse volant.ip";
		errno = EINVAL;
		if (!slash || alen >= sizeof addr || prefix < 1 || prefix > 32) goto out;
		memcpy(addr, ip, alen);
		addr[alen] = '\0';
		if (inet_pton(AF_INET, addr, &a) != 1) goto out;
		m.s_addr = htonl(prefix == 32 ? 0xffffffffu : ~((1u << (32 - prefix)) - 1));
		b.s_addr = a.s_addr | ~m.s_addr;
		const char *mtu_s = boot_arg("volant.mtu");
		int mtu = mtu_s ? atoi(mtu_s) : 0;
		step = "wait for " IFACE;
		errno = ENODEV;
		if (wait_iface() != 0) goto out;
		step = "set " IFACE " address";
		if (set_addr(s, SIOCSIFADDR, a) != 0) goto out;
		step = "set " IFACE " netmask";
		if (set_addr(s, SIOCSIFNETMASK, m) != 0) goto out;
		step = "set " IFACE " broadcast";
		if (set_addr(s, SIOCSIFBRDADDR, b) != 0) goto out;
		step = "set " IFACE " up";
		if (set_up(s, IFACE, mtu) != 0) goto out;
		const char *gw = boot_arg("volant.gw");
		if (gw && *gw) {
			step = "add default route";
			errno = EINVAL;
			if (inet_pton(AF_INET, gw, &g) != 1) goto out;
			if (add_default_route(s, g) != 0) goto out;
		}
	}
	const char *host = boot_arg("volant.hostname");
	step = "sethostname";
	if (host && *host && sethostname(host, strlen(host)) != 0) goto out;
	rc = 0;
out:
	if (rc != 0) snprintf(why, why_size, "network: %s: %s", step, strerror(errno));
	close(s);
	return rc;
}
