/* SPDX-License-Identifier: BSD-3-Clause */
/* Command-line options after "--": a table-driven parser with one-line errors. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_common.h>

#include "options.h"
#include "qburst/cc.h"

static const char *const mode_names[] = {
        [QB_MODE_UDPGEN] = "udpgen", [QB_MODE_SINK] = "sink",     [QB_MODE_RELAY] = "relay",
        [QB_MODE_SERVER] = "server", [QB_MODE_CLIENT] = "client",
};

const char *
qb_mode_name(enum qb_mode m)
{
	return (unsigned int)m < RTE_DIM(mode_names) ? mode_names[m] : "unknown";
}

void
qb_usage(const char *prog)
{
	printf("usage: %s [EAL options] -- [app options]\n"
	       "       %s [app options]\n"
	       "       %s [EAL options] -- --mode=client [app options] https://IP:PORT/PATH...\n"
	       "\n"
	       "Without \"--\", every argument is an app option and EAL starts with its\n"
	       "defaults; EAL options always go before \"--\".\n"
	       "\n"
	       "EAL options: see DPDK's documentation. Without hugepages or a NIC:\n"
	       "  -l 0-1 --no-huge -m 1024 --no-pci --vdev=net_null0,no-rx=1\n"
	       "The first lcore is the control lcore (statistics, signals, JSON); every\n"
	       "other lcore is a worker with its own RX/TX queue pair on the first port\n"
	       "EAL offers. With a single lcore, that lcore runs the worker loop itself.\n"
	       "\n"
	       "App options (--opt=VALUE or --opt VALUE):\n"
	       "  --mode=udpgen|sink|relay|server|client\n"
	       "                         udpgen: send UDP datagrams; sink: count what arrives\n"
	       "                         (and answer ARP/ND for --ip); relay: on --listen,\n"
	       "                         send forward-header datagrams for which an --ip is\n"
	       "                         the relay on, unchanged, to their destination;\n"
	       "                         server: serve --www over HTTP/3 (h3) and HTTP/0.9\n"
	       "                         (hq-interop) on --listen; client: fetch the URLs\n"
	       "                         (https://IP:PORT/PATH, IPv6 as [IP]) into --downloads,\n"
	       "                         one connection per server, the URLs of a server as\n"
	       "                         parallel streams; exits 0 only when every file\n"
	       "                         arrived whole, else 1 with a one-line reason\n"
	       "  --listen=PORT          relay: the UDP port of the relaying listener on every\n"
	       "                         --ip; server: the QUIC port (both required)\n"
	       "  --www=DIR              server: the files served (default .)\n"
	       "  --cert=FILE --key=FILE server: PEM certificate chain and key (default: a\n"
	       "                         self-signed pair made at start)\n"
	       "  --downloads=DIR        client: where files are saved (default .)\n"
	       "  --alpn=h3|hq-interop   client: the application protocol (default h3)\n"
	       "  --sni=NAME             client: server name sent and verified (default none)\n"
	       "  --ca=FILE              client: verify the server's chain with these PEM CAs\n"
	       "                         (default: not verified, with a warning)\n"
	       "  --relay=IP:PORT        client: reach every server through this qburst\n"
	       "                         --mode=relay (IPv6 as [IP]:PORT, of the URLs'\n"
	       "                         family): each datagram carries a forward header and\n"
	       "                         goes to the relay (its MAC: --dst-mac, --neigh or\n"
	       "                         ARP/ND), which sends it on unchanged; the answers\n"
	       "                         come back forwarded (default: direct)\n"
	       "  --accept-relayed       server: --listen also takes forwarded datagrams\n"
	       "                         addressed to an --ip (a relaying listener): their\n"
	       "                         connections answer through the relay they came by\n"
	       "  --multipath            server and client: the multi-path handshake (qburst\n"
	       "                         to qburst, both ends): the client opens each\n"
	       "                         connection on one path per --ip of the server's\n"
	       "                         family at once, the first path answered carries the\n"
	       "                         handshake, the others validate after it and carry\n"
	       "                         data too (up to 4 paths); the server takes them\n"
	       "                         (default: one path)\n"
	       "  --mtu=BYTES            server and client: the largest UDP payload sent,\n"
	       "                         forward header included (1200..1452, default\n"
	       "                         1452); a relayed path needs 1226 over IPv4, 1274\n"
	       "                         over IPv6 (1200 bytes of QUIC behind the header)\n"
	       "  --pacer-burst=N        server and client: the pacer's bucket, in packets of\n"
	       "                         1200 bytes a connection may send back to back\n"
	       "                         (1..1024, default 10, the initial window: RFC 9002\n"
	       "                         §7.7); a burst fills the worker's 32 mbufs from 39\n"
	       "                         at the default --mtu (1452), from 32 at 1200, where\n"
	       "                         the network takes such bursts\n"
	       "  --keylog=FILE          TLS secrets in SSLKEYLOGFILE format (default: the\n"
	       "                         SSLKEYLOGFILE variable, if set)\n"
	       "  --qlog-dir=DIR         one <ODCID>.sqlog qlog file per connection\n"
	       "  --cc=cubic|newreno     congestion control (default cubic)\n"
	       "  --ip=ADDR[/PREFIX]     an address of the port, IPv4 or IPv6; may repeat\n"
	       "                         (up to %d); udpgen needs one of --dst-ip's family\n"
	       "  --dst-ip=ADDR          udpgen: destination address\n"
	       "  --dst-port=PORT        udpgen: destination UDP port (default 9)\n"
	       "  --src-port=PORT        udpgen: first source UDP port (default 1024)\n"
	       "  --flows=N              udpgen: source ports src-port..src-port+N-1, one\n"
	       "                         flow each, sent round-robin (default 1); the last\n"
	       "                         port must be at most 65535\n"
	       "  --dst-mac=MAC          udpgen: next hop's MAC (default: resolved by ARP/ND);\n"
	       "                         relay: the MAC every relayed datagram is sent to\n"
	       "                         (default: --neigh entries, or --gateway's, resolved\n"
	       "                         at start)\n"
	       "  --neigh=IP,MAC         a static neighbour; may repeat (up to %d)\n"
	       "  --gateway=ADDR         next hop for destinations outside every --ip prefix\n"
	       "  --pkt-size=BYTES       udpgen: Ethernet frame length without FCS, as\n"
	       "                         testpmd's --txpkts (default 64: 22 bytes of UDP\n"
	       "                         payload over IPv4); %d..MTU+14 over IPv4,\n"
	       "                         %d..MTU+14 over IPv6\n"
	       "  --rate=PPS             udpgen: packets/s over all workers (default 0: as\n"
	       "                         fast as possible)\n"
	       "  --duration=SECONDS     run time; 0: until SIGINT/SIGTERM (default 10 for\n"
	       "                         udpgen, 0 for sink, relay and server; the client's\n"
	       "                         deadline, default 30); fractions allowed\n"
	       "  --stats-period=SECONDS one statistics line per port this often (default 1;\n"
	       "                         0: only the final summary)\n"
	       "  --stats-json=FILE      write the summary as JSON at exit (also after\n"
	       "                         SIGINT), through a temporary file and a rename;\n"
	       "                         FILE's directory must exist and be writable\n"
	       "  --arp-timeout=MS       udpgen: how long to wait for the next hop's ARP/ND\n"
	       "                         answer (default 3000)\n"
	       "  --no-tx-offload        compute checksums in software even where the port\n"
	       "                         offers checksum offload\n"
	       "  --crypto=auto|boringssl|ipsecmb\n"
	       "                         packet-protection backend (default auto: ipsec-mb\n"
	       "                         where it runs its AVX2/AVX-512 code, else BoringSSL)\n"
	       "  --help                 this text\n"
	       "\n"
	       "Byte counts and bit rates are of Ethernet frames without FCS.\n"
	       "Exit status: 0 done, 1 the job failed, 2 bad option, no port or too few\n"
	       "queue pairs.\n",
	       prog, prog, prog, QB_PORT_MAX_ADDRS, QB_MAX_NEIGH, QB_PKT_SIZE_MIN_V4,
	       QB_PKT_SIZE_MIN_V6);
}

bool
qb_wants_help(int argc, char **argv)
{
	int i, start = 1;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			start = i + 1;
			break;
		}
	}
	for (i = start; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

static int
bad(const char *opt, const char *val, const char *why)
{
	if (val != NULL)
		fprintf(stderr, "qburst: --%s=%s: %s\n", opt, val, why);
	else
		fprintf(stderr, "qburst: --%s: %s\n", opt, why);
	return QB_EXIT_USAGE;
}

/* Unsigned decimal integer in [lo, hi], the whole string consumed. */
static int
parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Non-negative finite seconds, at most a year. */
static int
parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	if ((*s < '0' || *s > '9') && *s != '.')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(v) || v < 0 || v > 366.0 * 86400)
		return -1;
	*out = v;
	return 0;
}

enum opt_id {
	OPT_MODE,
	OPT_IP,
	OPT_DST_IP,
	OPT_DST_PORT,
	OPT_SRC_PORT,
	OPT_FLOWS,
	OPT_DST_MAC,
	OPT_NEIGH,
	OPT_GATEWAY,
	OPT_PKT_SIZE,
	OPT_RATE,
	OPT_DURATION,
	OPT_STATS_PERIOD,
	OPT_STATS_JSON,
	OPT_ARP_TIMEOUT,
	OPT_NO_TX_OFFLOAD,
	OPT_CRYPTO,
	OPT_LISTEN,
	OPT_WWW,
	OPT_CERT,
	OPT_KEY,
	OPT_KEYLOG,
	OPT_QLOG_DIR,
	OPT_CC,
	OPT_DOWNLOADS,
	OPT_ALPN,
	OPT_SNI,
	OPT_CA,
	OPT_RELAY,
	OPT_ACCEPT_RELAYED,
	OPT_MULTIPATH,
	OPT_MTU,
	OPT_PACER_BURST,
};

struct opt_def {
	const char *name;
	enum opt_id id;
	bool has_arg;
};

static const struct opt_def opt_defs[] = {
        {"mode", OPT_MODE, true},
        {"ip", OPT_IP, true},
        {"dst-ip", OPT_DST_IP, true},
        {"dst-port", OPT_DST_PORT, true},
        {"src-port", OPT_SRC_PORT, true},
        {"flows", OPT_FLOWS, true},
        {"dst-mac", OPT_DST_MAC, true},
        {"neigh", OPT_NEIGH, true},
        {"gateway", OPT_GATEWAY, true},
        {"pkt-size", OPT_PKT_SIZE, true},
        {"rate", OPT_RATE, true},
        {"duration", OPT_DURATION, true},
        {"stats-period", OPT_STATS_PERIOD, true},
        {"stats-json", OPT_STATS_JSON, true},
        {"arp-timeout", OPT_ARP_TIMEOUT, true},
        {"no-tx-offload", OPT_NO_TX_OFFLOAD, false},
        {"crypto", OPT_CRYPTO, true},
        {"listen", OPT_LISTEN, true},
        {"www", OPT_WWW, true},
        {"cert", OPT_CERT, true},
        {"key", OPT_KEY, true},
        {"keylog", OPT_KEYLOG, true},
        {"qlog-dir", OPT_QLOG_DIR, true},
        {"cc", OPT_CC, true},
        {"downloads", OPT_DOWNLOADS, true},
        {"alpn", OPT_ALPN, true},
        {"sni", OPT_SNI, true},
        {"ca", OPT_CA, true},
        {"relay", OPT_RELAY, true},
        {"accept-relayed", OPT_ACCEPT_RELAYED, false},
        {"multipath", OPT_MULTIPATH, false},
        {"mtu", OPT_MTU, true},
        {"pacer-burst", OPT_PACER_BURST, true},
};

/*
 * "IP:PORT" at h, IPv6 as "[IP]:PORT", ending at the end of the string or
 * at a '/' (*rest points there).
 */
static int
parse_endpoint(const char *h, struct qb_ipaddr *ip, uint16_t *port_out, const char **rest)
{
	char host[QB_IPADDR_STRLEN];
	const char *end, *colon;
	uint64_t port;
	size_t len;

	if (*h == '[') {
		end = strchr(h, ']');
		if (end == NULL)
			return -1;
		len = (size_t)(end - h - 1);
		h++;
		colon = end + 1;
		if (*colon != ':')
			return -1;
	} else {
		colon = strchr(h, ':');
		if (colon == NULL)
			return -1;
		len = (size_t)(colon - h);
	}
	if (len == 0 || len >= sizeof(host))
		return -1;
	memcpy(host, h, len);
	host[len] = '\0';
	if (qb_ipaddr_parse(host, ip) != 0)
		return -1;
	char pbuf[8];
	const char *p = colon + 1, *slash = strchr(p, '/');
	size_t plen = slash != NULL ? (size_t)(slash - p) : strlen(p);

	if (plen == 0 || plen >= sizeof(pbuf))
		return -1;
	memcpy(pbuf, p, plen);
	pbuf[plen] = '\0';
	if (parse_u64(pbuf, 1, 65535, &port) != 0)
		return -1;
	*port_out = (uint16_t)port;
	*rest = slash != NULL ? slash : p + plen;
	return 0;
}

/* "https://IP:PORT/PATH", IPv6 as "[IP]"; the path defaults to "/". */
static int
parse_url(const char *v, struct qb_url *u)
{
	const char *rest;

	if (strncmp(v, "https://", 8) != 0 || parse_endpoint(v + 8, &u->ip, &u->port, &rest) != 0)
		return -1;
	u->path = *rest == '/' ? rest : "/";
	u->text = v;
	return 0;
}

/* A directory that exists. */
static int
check_dir(const char *opt, const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return bad(opt, path, "not a directory");
	return 0;
}

/* "IP,MAC" */
static int
parse_neigh(const char *v, struct qb_static_neigh *n)
{
	char ip[QB_IPADDR_STRLEN];
	const char *comma = strrchr(v, ',');
	size_t len;

	if (comma == NULL)
		return -1;
	len = (size_t)(comma - v);
	if (len == 0 || len >= sizeof(ip))
		return -1;
	memcpy(ip, v, len);
	ip[len] = '\0';
	if (qb_ipaddr_parse(ip, &n->ip) != 0)
		return -1;
	return qb_mac_parse(comma + 1, &n->mac) == 0 ? 0 : -1;
}

static int
apply(struct qb_opts *o, const struct opt_def *d, const char *v, bool *mode_set, bool *duration_set)
{
	uint64_t u;

	switch (d->id) {
	case OPT_MODE:
		if (strcmp(v, "udpgen") == 0)
			o->mode = QB_MODE_UDPGEN;
		else if (strcmp(v, "sink") == 0)
			o->mode = QB_MODE_SINK;
		else if (strcmp(v, "relay") == 0)
			o->mode = QB_MODE_RELAY;
		else if (strcmp(v, "server") == 0)
			o->mode = QB_MODE_SERVER;
		else if (strcmp(v, "client") == 0)
			o->mode = QB_MODE_CLIENT;
		else
			return bad(d->name, v,
			           "unknown mode (udpgen, sink, relay, server or client)");
		*mode_set = true;
		break;
	case OPT_IP:
		if (o->n_ips >= QB_PORT_MAX_ADDRS)
			return bad(d->name, v, "too many addresses");
		if (qb_ipnet_parse(v, &o->ips[o->n_ips]) != 0)
			return bad(d->name, v, "bad address (ADDR or ADDR/PREFIX, IPv4 or IPv6)");
		o->n_ips++;
		break;
	case OPT_DST_IP:
		if (qb_ipaddr_parse(v, &o->dst_ip) != 0)
			return bad(d->name, v, "bad address");
		break;
	case OPT_GATEWAY:
		if (qb_ipaddr_parse(v, &o->gateway) != 0)
			return bad(d->name, v, "bad address");
		break;
	case OPT_LISTEN:
		if (parse_u64(v, 1, 65535, &u) != 0)
			return bad(d->name, v, "not a port (1..65535)");
		o->listen_port = (uint16_t)u;
		break;
	case OPT_DST_PORT:
	case OPT_SRC_PORT:
		if (parse_u64(v, 1, 65535, &u) != 0)
			return bad(d->name, v, "not a port (1..65535)");
		if (d->id == OPT_DST_PORT)
			o->dst_port = (uint16_t)u;
		else
			o->src_port = (uint16_t)u;
		break;
	case OPT_FLOWS:
		if (parse_u64(v, 1, 65535, &u) != 0)
			return bad(d->name, v, "out of range (1..65535)");
		o->flows = (uint32_t)u;
		break;
	case OPT_DST_MAC:
		if (qb_mac_parse(v, &o->dst_mac) != 0)
			return bad(d->name, v, "bad MAC address (xx:xx:xx:xx:xx:xx)");
		o->has_dst_mac = true;
		break;
	case OPT_NEIGH:
		if (o->n_neigh >= QB_MAX_NEIGH)
			return bad(d->name, v, "too many static neighbours");
		if (parse_neigh(v, &o->neigh[o->n_neigh]) != 0)
			return bad(d->name, v, "expected IP,MAC");
		o->n_neigh++;
		break;
	case OPT_PKT_SIZE:
		if (parse_u64(v, 0, UINT32_MAX, &u) != 0)
			return bad(d->name, v, "not a number");
		if (u < QB_PKT_SIZE_MIN_V4 || u > QB_PKT_SIZE_MAX)
			return bad(d->name, v, "out of range (64..9014, and at most MTU+14)");
		o->pkt_size = (uint32_t)u;
		break;
	case OPT_RATE:
		if (parse_u64(v, 0, UINT64_MAX / 2, &u) != 0)
			return bad(d->name, v, "not a packet rate");
		o->rate = u;
		break;
	case OPT_DURATION:
		if (parse_seconds(v, &o->duration) != 0)
			return bad(d->name, v, "not a duration in seconds");
		*duration_set = true;
		break;
	case OPT_STATS_PERIOD:
		if (parse_seconds(v, &o->stats_period) != 0)
			return bad(d->name, v, "not a period in seconds");
		break;
	case OPT_STATS_JSON:
		if (*v == '\0')
			return bad(d->name, v, "empty file name");
		o->stats_json = v;
		break;
	case OPT_ARP_TIMEOUT:
		if (parse_u64(v, 1, 600000, &u) != 0)
			return bad(d->name, v, "out of range (1..600000 ms)");
		o->arp_timeout_ms = (unsigned int)u;
		break;
	case OPT_NO_TX_OFFLOAD:
		o->no_tx_offload = true;
		break;
	case OPT_WWW:
		o->www = v;
		break;
	case OPT_CERT:
		o->cert = v;
		break;
	case OPT_KEY:
		o->key = v;
		break;
	case OPT_KEYLOG:
		if (*v == '\0')
			return bad(d->name, v, "empty file name");
		o->keylog = v;
		break;
	case OPT_QLOG_DIR:
		o->qlog_dir = v;
		break;
	case OPT_CC:
		if (strcmp(v, "cubic") != 0 && strcmp(v, "newreno") != 0)
			return bad(d->name, v, "unknown congestion control (cubic or newreno)");
		o->cc = v;
		break;
	case OPT_DOWNLOADS:
		o->downloads = v;
		break;
	case OPT_ALPN:
		if (strcmp(v, "h3") != 0 && strcmp(v, "hq-interop") != 0)
			return bad(d->name, v, "unknown protocol (h3 or hq-interop)");
		o->alpn = v;
		break;
	case OPT_SNI:
		if (*v == '\0' || strlen(v) > 253)
			return bad(d->name, v, "not a server name");
		o->sni = v;
		break;
	case OPT_CA:
		if (access(v, R_OK) != 0)
			return bad(d->name, v, "cannot read the file");
		o->ca = v;
		break;
	case OPT_RELAY: {
		const char *rest;

		if (parse_endpoint(v, &o->relay, &o->relay_port, &rest) != 0 || *rest != '\0')
			return bad(d->name, v, "expected IP:PORT ([IP]:PORT for IPv6)");
		break;
	}
	case OPT_ACCEPT_RELAYED:
		o->accept_relayed = true;
		break;
	case OPT_MULTIPATH:
		o->multipath = true;
		break;
	case OPT_MTU:
		if (parse_u64(v, QB_QUIC_MTU_MIN, QB_QUIC_MTU_MAX, &u) != 0)
			return bad(d->name, v, "not a UDP payload size (1200..1452)");
		o->mtu = (uint16_t)u;
		break;
	case OPT_PACER_BURST:
		if (parse_u64(v, 1, QB_PACER_BURST_MAX, &u) != 0)
			return bad(d->name, v, "not a packet count (1..1024)");
		o->pacer_burst = (uint32_t)u;
		break;
	case OPT_CRYPTO: {
		int b = qb_crypto_backend_parse(v);

		if (b < 0)
			return bad(d->name, v, "unknown backend (auto, boringssl or ipsecmb)");
		o->crypto = (enum qb_crypto_backend)b;
		break;
	}
	}
	return 0;
}

/*
 * --stats-json is written at exit, after the whole job: a directory that is
 * missing or not writable must fail now, not after the run. The file goes
 * through a temporary file in the same directory and a rename, so the
 * directory needs write and search permission.
 */
static int
check_json_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	char why[PATH_MAX + 64];
	struct stat st;
	size_t len;

	if (slash == NULL) {
		snprintf(dir, sizeof(dir), ".");
	} else {
		len = slash == path ? 1 : (size_t)(slash - path);
		if (len >= sizeof(dir)) {
			bad("stats-json", path, "path too long");
			return -1;
		}
		memcpy(dir, path, len);
		dir[len] = '\0';
	}
	if ((slash != NULL && slash[1] == '\0') || (stat(path, &st) == 0 && S_ISDIR(st.st_mode))) {
		bad("stats-json", path, "names a directory, not a file");
		return -1;
	}
	if (access(dir, W_OK | X_OK) != 0) {
		snprintf(why, sizeof(why), "directory %s: %s", dir, strerror(errno));
		bad("stats-json", path, why);
		return -1;
	}
	return 0;
}

/* Checks that need every option: what each mode requires. */
static int
check(struct qb_opts *o)
{
	unsigned int i;

	for (i = 0; i < o->n_neigh; i++) {
		if (o->neigh[i].ip.family == 0)
			return bad("neigh", NULL, "bad address");
	}
	if (o->stats_json != NULL && check_json_dir(o->stats_json) != 0)
		return QB_EXIT_USAGE;
	if (o->qlog_dir != NULL && check_dir("qlog-dir", o->qlog_dir) != 0)
		return QB_EXIT_USAGE;
	if (o->mode != QB_MODE_CLIENT && o->n_urls > 0)
		return bad("mode", qb_mode_name(o->mode), "takes no URL (only the client does)");
	if (o->mode != QB_MODE_CLIENT && o->relay.family != 0)
		return bad("relay", NULL, "only the client goes through a relay");
	if (o->mode != QB_MODE_SERVER && o->accept_relayed)
		return bad("accept-relayed", NULL,
		           o->mode == QB_MODE_CLIENT ? "server only (a client with --relay "
		                                       "accepts forwarded answers anyway)"
		                                     : "server only");
	if (o->multipath && o->mode != QB_MODE_SERVER && o->mode != QB_MODE_CLIENT)
		return bad("multipath", NULL, "server and client only");
	if (o->multipath && o->relay.family != 0)
		return bad("multipath", NULL, "not with --relay (one path through the relay)");
	if (o->mtu != 0 && o->mode != QB_MODE_SERVER && o->mode != QB_MODE_CLIENT)
		return bad("mtu", NULL, "server and client only");
	if (o->pacer_burst != 0 && o->mode != QB_MODE_SERVER && o->mode != QB_MODE_CLIENT)
		return bad("pacer-burst", NULL, "server and client only");
	if (o->mode == QB_MODE_SERVER) {
		if (o->listen_port == 0)
			return bad("listen", NULL, "missing: server needs --listen=PORT");
		if (o->n_ips == 0)
			return bad("ip", NULL, "missing: server needs an --ip to listen on");
		if ((o->cert == NULL) != (o->key == NULL))
			return bad(o->cert == NULL ? "cert" : "key", NULL,
			           "missing: --cert and --key go together");
		if (o->cert != NULL && access(o->cert, R_OK) != 0)
			return bad("cert", o->cert, "cannot read the file");
		if (o->key != NULL && access(o->key, R_OK) != 0)
			return bad("key", o->key, "cannot read the file");
		return check_dir("www", o->www);
	}
	if (o->mode == QB_MODE_CLIENT) {
		if (o->n_urls == 0)
			return bad("mode", "client", "needs at least one URL https://IP:PORT/PATH");
		if (o->n_ips == 0)
			return bad("ip", NULL, "missing: client needs an --ip");
		for (i = 0; i < o->n_urls; i++) {
			unsigned int k;

			for (k = 0; k < o->n_ips; k++)
				if (o->ips[k].addr.family == o->urls[i].ip.family)
					break;
			if (k == o->n_ips)
				return bad("ip", NULL,
				           "missing: no --ip of a URL's address family");
			/* One path per address: a second one makes it multi-path. */
			unsigned int same = 0;
			for (k = 0; k < o->n_ips; k++)
				same += o->ips[k].addr.family == o->urls[i].ip.family;
			if (o->multipath && same < 2)
				return bad(
				        "multipath", NULL,
				        "needs two --ip of the URLs' address family (one per path)");
			/* One forward header carries every address in one family. */
			if (o->relay.family != 0 && o->relay.family != o->urls[i].ip.family)
				return bad("relay", NULL, "not of the URLs' address family");
		}
		return check_dir("downloads", o->downloads);
	}
	if (o->mode == QB_MODE_RELAY) {
		if (o->listen_port == 0)
			return bad("listen", NULL, "missing: relay needs --listen=PORT");
		if (o->n_ips == 0)
			return bad("ip", NULL, "missing: relay needs an --ip to relay on");
		return 0;
	}
	if (o->mode != QB_MODE_UDPGEN)
		return 0;
	/* Source ports are 16 bits: the last flow's must not wrap to 0. */
	if ((uint32_t)o->src_port + o->flows - 1 > 65535) {
		char v[16], why[96];

		snprintf(v, sizeof(v), "%u", o->flows);
		snprintf(why, sizeof(why),
		         "with --src-port=%u the last source port would be %u (at most 65535)",
		         o->src_port, (unsigned int)o->src_port + o->flows - 1);
		return bad("flows", v, why);
	}
	if (o->dst_ip.family == 0)
		return bad("dst-ip", NULL, "missing: udpgen needs a destination");
	for (i = 0; i < o->n_ips; i++) {
		if (o->ips[i].addr.family == o->dst_ip.family)
			break;
	}
	if (i == o->n_ips)
		return bad("ip", NULL,
		           o->dst_ip.family == QB_AF_INET
		                   ? "missing: udpgen needs an IPv4 --ip for an IPv4 --dst-ip"
		                   : "missing: udpgen needs an IPv6 --ip for an IPv6 --dst-ip");
	if (o->gateway.family != 0 && o->gateway.family != o->dst_ip.family)
		return bad("gateway", NULL, "not of --dst-ip's family");
	if (o->dst_ip.family == QB_AF_INET6 && o->pkt_size < QB_PKT_SIZE_MIN_V6) {
		char v[16];

		snprintf(v, sizeof(v), "%u", o->pkt_size);
		return bad("pkt-size", v, "out of range over IPv6 (66..9014, and at most MTU+14)");
	}
	return 0;
}

int
qb_opts_parse(struct qb_opts *o, int argc, char **argv)
{
	bool mode_set = false, duration_set = false;
	int i, rc;

	memset(o, 0, sizeof(*o));
	o->dst_port = 9;
	o->src_port = 1024;
	o->flows = 1;
	o->pkt_size = 64;
	o->stats_period = 1;
	o->arp_timeout_ms = 3000;
	o->www = ".";
	o->downloads = ".";
	o->alpn = "h3";
	o->cc = "cubic";

	for (i = 0; i < argc; i++) {
		const char *arg = argv[i], *val = NULL, *eq;
		const struct opt_def *d = NULL;
		size_t len;
		unsigned int k;

		if (strncmp(arg, "https://", 8) == 0) {
			if (o->n_urls >= QB_MAX_URLS)
				return bad("mode", "client", "too many URLs");
			if (parse_url(arg, &o->urls[o->n_urls]) != 0) {
				fprintf(stderr, "qburst: %s: bad URL (https://IP:PORT/PATH)\n",
				        arg);
				return QB_EXIT_USAGE;
			}
			o->n_urls++;
			continue;
		}
		if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
			fprintf(stderr,
			        "qburst: %s: not an app option (app options start with --; EAL "
			        "options go before \"--\")\n",
			        arg);
			return QB_EXIT_USAGE;
		}
		arg += 2;
		eq = strchr(arg, '=');
		len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
		for (k = 0; k < RTE_DIM(opt_defs); k++) {
			if (strlen(opt_defs[k].name) == len &&
			    strncmp(opt_defs[k].name, arg, len) == 0)
				d = &opt_defs[k];
		}
		if (d == NULL) {
			fprintf(stderr, "qburst: --%.*s: unknown option (see --help)\n", (int)len,
			        arg);
			return QB_EXIT_USAGE;
		}
		if (d->has_arg) {
			if (eq != NULL)
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return bad(d->name, NULL, "needs a value");
		} else if (eq != NULL) {
			return bad(d->name, NULL, "takes no value");
		}
		rc = apply(o, d, val, &mode_set, &duration_set);
		if (rc != 0)
			return rc;
	}
	if (!mode_set)
		return bad("mode", NULL, "missing (udpgen, sink, relay, server or client)");
	if (!duration_set)
		o->duration = o->mode == QB_MODE_UDPGEN ? 10 : o->mode == QB_MODE_CLIENT ? 30 : 0;
	return check(o);
}
