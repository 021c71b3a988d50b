/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QB_APP_OPTIONS_H
#define QB_APP_OPTIONS_H

/*
 * The application's options (after "--" on the command line, BRIEF §10;
 * without "--", every argument is an app option).
 * Parsing needs no EAL: every check that does not depend on the port is done
 * here, so a bad command line fails before EAL starts.
 */

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>

#include "qb_net.h"
#include "qburst/crypto_select.h"

/* Exit codes (BRIEF §10). */
#define QB_EXIT_OK    0
#define QB_EXIT_FAIL  1 /* the job failed (e.g. the next hop never answered ARP) */
#define QB_EXIT_USAGE 2 /* a bad option, no port, too few queues */

/* Smallest frames (bytes, without FCS): headers plus a 22-byte (IPv4) or
 * 4-byte (IPv6) payload. The largest is the port's MTU + 14. */
#define QB_PKT_SIZE_MIN_V4 64
#define QB_PKT_SIZE_MIN_V6 66
#define QB_PKT_SIZE_MAX    9014 /* before the port is known */

#define QB_MAX_NEIGH 16

enum qb_mode {
	QB_MODE_UDPGEN,
	QB_MODE_SINK,
	QB_MODE_RELAY,
	QB_MODE_SERVER,
	QB_MODE_CLIENT,
};

#define QB_MAX_URLS 64

/* A client URL https://IP:PORT/PATH (path points into argv). */
struct qb_url {
	struct qb_ipaddr ip;
	uint16_t port;
	const char *path; /* starts with '/' */
	const char *text; /* the whole URL */
};

struct qb_static_neigh {
	struct qb_ipaddr ip;
	struct rte_ether_addr mac;
};

struct qb_opts {
	enum qb_mode mode;
	struct qb_ipnet ips[QB_PORT_MAX_ADDRS];
	unsigned int n_ips;
	struct qb_ipaddr dst_ip; /* family 0: not given */
	struct qb_ipaddr gateway;
	uint16_t dst_port;
	uint16_t src_port;
	bool has_dst_mac;
	struct rte_ether_addr dst_mac;
	struct qb_static_neigh neigh[QB_MAX_NEIGH];
	unsigned int n_neigh;
	uint32_t pkt_size; /* Ethernet frame bytes without FCS */
	uint64_t rate;     /* packets/s over all workers; 0: as fast as possible */
	uint32_t flows;
	double duration;     /* seconds; 0: until SIGINT/SIGTERM */
	double stats_period; /* seconds; 0: no periodic lines */
	const char *stats_json;
	bool no_tx_offload;
	enum qb_crypto_backend crypto; /* --crypto: auto, boringssl, ipsecmb */
	unsigned int arp_timeout_ms;
	uint16_t listen_port; /* relay, server: the UDP port listened on (0: none) */
	/* server and client (BRIEF §10) */
	const char *www;       /* server: files served (default ".") */
	const char *cert;      /* server: PEM chain; NULL with key NULL: self-signed */
	const char *key;       /* server: PEM private key */
	const char *keylog;    /* NULL: $SSLKEYLOGFILE, if set */
	const char *qlog_dir;  /* NULL: no qlog */
	const char *cc;        /* "cubic" (default) or "newreno" */
	const char *downloads; /* client: where files go (default ".") */
	const char *alpn;      /* client: "h3" (default) or "hq-interop" */
	const char *sni;       /* client: server name sent and checked; NULL: none */
	const char *ca;        /* client: PEM CAs; NULL: no verification */
	struct qb_url urls[QB_MAX_URLS];
	unsigned int n_urls;
	/* Relayed paths (BRIEF §2, forward header) */
	struct qb_ipaddr relay; /* client: reach every server through it (family 0: direct) */
	uint16_t relay_port;
	bool accept_relayed; /* server: --listen also takes forwarded datagrams */
	/* The multi-path handshake (BRIEF §2, qburst to qburst): the server
	 * takes a connection's datagrams from several client addresses as its
	 * paths; the client opens one path per --ip of the server's family. */
	bool multipath;
	/* server, client: the engine's largest UDP payload (0: its default,
	 * 1452); a relayed path takes its forward header from it. */
	uint16_t mtu;
	/* server, client: the pacer's bucket in packets (0: the engine's
	 * default, 10; RFC 9002 §7.7). */
	uint32_t pacer_burst;
};

/* --mtu's range: RFC 9000 §14.1's 1200 up to the engine's default. */
#define QB_QUIC_MTU_MIN 1200
#define QB_QUIC_MTU_MAX 1452

/* Prints the usage text to stdout. */
void qb_usage(const char *prog);

/*
 * True if the command line asks for help: "--help" after "--", or anywhere
 * when there is no "--".
 */
bool qb_wants_help(int argc, char **argv);

/*
 * Parses the app options argv[0..argc-1] (those after "--", or every argument
 * when the command line has no "--") into *o. On error
 * prints one line naming the option to stderr and returns QB_EXIT_USAGE;
 * else returns 0.
 */
int qb_opts_parse(struct qb_opts *o, int argc, char **argv);

/* The mode's name ("udpgen", "sink", "relay"). */
const char *qb_mode_name(enum qb_mode m);

#endif
