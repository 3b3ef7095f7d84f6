#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct {
  const char *command;
  const char *text;
} usages[] = {
    {"weft",
     "Usage: weft COMMAND [OPTIONS]\n"
     "\n"
     "Weft exposes services behind NAT through a server with a public\n"
     "address, over a transport chosen per tunnel.\n"
     "\n"
     "Commands:\n"
     "  server    run the tunnel server\n"
     "  tunnel    expose a local service through a server\n"
     "  service   install a tunnel as a systemd service\n"
     "  plugins   list transport plugins, loaded and refused\n"
     "  login     log in to a server and print a session token\n"
     "  admin     approve or deny waiting tunnels, list or end tunnels\n"
     "  user      add, list, remove people with API keys, or give a new key\n"
     "  version   print the version\n"
     "  help      show help for a command\n"
     "\n"
     "Run 'weft COMMAND --help' for a command's options.\n"
     "\n"
     "Exit codes: 0 success, 1 runtime error, 2 bad command line,\n"
     "3 invalid configuration, 4 transport missing or unable.\n"},
    {"server",
     "Usage: weft server [OPTIONS]\n"
     "\n"
     "Runs the server: the control API, leases and the transports' server\n"
     "sides. Without --config it runs on embedded defaults. Prints the\n"
     "connection string devices use. SIGINT/SIGTERM stop it cleanly;\n"
     "SIGHUP re-reads the --config file.\n"
     "\n"
     "Options:\n"
     "  -c, --config FILE        weft.conf to use\n"
     "  -b, --bind-ips A,B       addresses to listen on (replaces the hosts\n"
     "                           of [server] listen)\n"
     "  -p, --port PORT          control API port (default 9092)\n"
     "      --use-secret-per-ip  one secret per bound address\n"
     "      --secret-file FILE   also write the connection string here\n"
     "      --email ADDR         contact address for ACME certificates\n"
     "      --state-dir DIR      where the secret and store live\n"
     "      --plugin-dir DIR     load plugins from DIR first\n"
     "      --http-listen A:P    public HTTP port for http tunnels, or off\n"
     "                           (default 0.0.0.0:8080)\n"
     "      --tls-listen A:P     public TLS port for https host names, or off\n"
     "                           (default 0.0.0.0:8443)\n"
     "  -v, --verbose            log debug detail\n"
     "  -h, --help               show this help\n"},
    {"tunnel",
     "Usage: weft tunnel weft://SECRET@HOST[:PORT] LOCAL_URL [REMOTE_URL]\n"
     "                   [--transport NAME] [--device-id ID]\n"
     "       weft tunnel --config FILE [weft://SECRET@HOST[:PORT]] [--only NAME]\n"
     "       weft tunnel status [NAME]\n"
     "\n"
     "Logs in to the server (which must first prove it knows the secret),\n"
     "then exposes LOCAL_URL (a service on this machine) through it as\n"
     "REMOTE_URL; without REMOTE_URL the server picks the public address.\n"
     "Ctrl-C deletes the tunnels on the server.\n"
     "With --config, opens every [tunnel \"NAME\"] section of FILE (or only\n"
     "NAME); tunnels whose transport needs no weft server (autossh to a\n"
     "bastion) run without the connection string.\n"
     "'weft tunnel status' shows each open tunnel's state on this machine:\n"
     "connecting, up since, restarts, last error (exit 0 only if all are up).\n"
     "URLs: tcp://HOST:PORT, udp://HOST:PORT, http://HOST[:PORT][/PATH],\n"
     "https://HOST[:PORT]; IPv6 hosts in brackets, as in tcp://[::1]:22.\n"
     "\n"
     "Examples:\n"
     "  weft tunnel weft://S@srv tcp://127.0.0.1:22 tcp://:2222\n"
     "  weft tunnel weft://S@srv http://localhost:3000\n"
     "  weft tunnel weft://S@srv udp://127.0.0.1:53 udp://:5353\n"
     "  weft tunnel --config /etc/weft/weft.conf --only nas\n"
     "  weft tunnel status nas\n"
     "\n"
     "Options:\n"
     "  -t, --transport NAME     transport plugin (default websocket)\n"
     "  -c, --config FILE        open the tunnels of FILE\n"
     "      --only NAME          open only [tunnel \"NAME\"] of --config\n"
     "      --connect-file FILE  read weft://SECRET@HOST from FILE (keeps the\n"
     "                           secret out of process lists)\n"
     "      --device-id ID       this device's id (default: the host name)\n"
     "      --replace            end this device's live tunnel on the server\n"
     "                           first (an agent restarted after a crash)\n"
     "      --await-approval     open only once an administrator approves\n"
     "                           (weft admin approve ID); Ctrl-C withdraws\n"
     "      --run-dir DIR        where tunnel states and transport keys live\n"
     "                           (default /run/weft for root, else\n"
     "                           $XDG_RUNTIME_DIR/weft; or $WEFT_RUN_DIR)\n"
     "      --state-dir DIR      where device keys live, kept across reboots\n"
     "                           (default /var/lib/weft for root, else\n"
     "                           ~/.local/state/weft; or $WEFT_STATE_DIR)\n"
     "      --plugin-dir DIR     load plugins from DIR first\n"
     "  -v, --verbose            log debug detail\n"
     "  -h, --help               show this help\n"},
    {"tunnel status",
     "Usage: weft tunnel status [NAME] [--run-dir DIR]\n"
     "\n"
     "Shows each tunnel a 'weft tunnel' on this machine holds open (or only\n"
     "NAME): its state (connecting, up since, retrying, failed), restarts\n"
     "and last error. Exits 0 if every tunnel shown is up, 1 otherwise.\n"},
    {"service",
     "Usage: weft service install NAME --config FILE [--user USER]\n"
     "                    [--connect-file FILE] [--dry-run]\n"
     "       weft service status NAME\n"
     "       weft service remove NAME [--dry-run]\n"
     "\n"
     "Keeps [tunnel \"NAME\"] of a weft.conf up as the systemd unit\n"
     "weft-tunnel-NAME.service (Restart=always; runs as USER if given).\n"
     "install checks the tunnel, writes the unit and enables it; status says\n"
     "whether it is installed and running and shows the tunnel's state;\n"
     "remove stops, disables and deletes it. A tunnel that needs a weft\n"
     "server reads its connection string from --connect-file.\n"
     "\n"
     "Options:\n"
     "  -c, --config FILE        the weft.conf holding the tunnel\n"
     "      --user USER          run the tunnel as USER (must exist)\n"
     "      --connect-file FILE  file with weft://SECRET@HOST (mode 0600)\n"
     "      --unit-dir DIR       where units go (default /etc/systemd/system)\n"
     "      --dry-run            print what would be written or done\n"
     "  -h, --help               show this help\n"},
    {"login",
     "Usage: weft login weft://SECRET@HOST[:PORT] [--device-id ID]\n"
     "\n"
     "Logs in (the server proves it knows the secret first; the secret never\n"
     "crosses the wire) and prints a session token, valid 30 minutes, for\n"
     "the control API:\n"
     "  TOKEN=$(weft login weft://SECRET@HOST)\n"
     "  curl -H \"Authorization: Bearer $TOKEN\" http://HOST:9092/v1/tunnels\n"
     "\n"
     "Options:\n"
     "      --device-id ID       the device to log in as (default: host name)\n"
     "      --state-dir DIR      sign with the device's key from DIR, if it\n"
     "                           has one (default as weft tunnel's)\n"
     "  -h, --help               show this help\n"},
    {"admin",
     "Usage: weft admin [weft://SECRET@HOST[:PORT]] COMMAND [OPTIONS]\n"
     "\n"
     "The administrator's side of the control API. On the server's host it\n"
     "goes through the server's local socket (STATE_DIR/admin.sock, mode\n"
     "0600: whoever may open it administers the server); with a connection\n"
     "string first it logs in as a device [server] admins names.\n"
     "\n"
     "Commands:\n"
     "  approvals          tunnels waiting for approval (weft tunnel\n"
     "                     --await-approval), with who asks for what\n"
     "  approve ID         open that tunnel now\n"
     "  deny ID            refuse it (the device is told)\n"
     "  tunnels            the open tunnels\n"
     "  end TUNNEL_ID      end a tunnel now (its device is told)\n"
     "  devices            devices bound to keys, with their fingerprints\n"
     "  revoke ID          end a device's tunnels at once and refuse it\n"
     "                     from then on (until forget-key ID)\n"
     "  forget-key ID      free a device id from the key it is bound to\n"
     "                     (a reinstalled device); the next key is bound\n"
     "\n"
     "Options:\n"
     "      --state-dir DIR      the server's state directory (default\n"
     "                           /var/lib/weft as root, as weft server's)\n"
     "      --socket PATH        the socket itself (default STATE_DIR/admin.sock)\n"
     "      --device-id ID       with a connection string: log in as ID\n"
     "                           (default admin), listed in [server] admins\n"
     "  -h, --help               show this help\n"},
    {"user",
     "Usage: weft user add NAME --role admin|operator|viewer\n"
     "       weft user list | remove NAME | rotate NAME\n"
     "\n"
     "People who call the control API with a key (curl -H \"Authorization:\n"
     "Bearer KEY\"). add and rotate print the key once; the server keeps only\n"
     "its hash. A viewer reads; an operator also ends tunnels; an admin does\n"
     "everything (docs/security.md has the table). Reaches the server as\n"
     "weft admin does.\n"
     "\n"
     "Options:\n"
     "      --role ROLE          for add: admin, operator or viewer\n"
     "      --state-dir DIR      the server's state directory\n"
     "      --socket PATH        the socket itself (default STATE_DIR/admin.sock)\n"
     "  -h, --help               show this help\n"},
    {"plugins",
     "Usage: weft plugins [OPTIONS]\n"
     "\n"
     "Lists the transport plugins found: name, ABI, capabilities and path,\n"
     "then every refused plugin with the reason.\n"
     "\n"
     "Options:\n"
     "  -c, --config FILE        initialise plugins with FILE's options\n"
     "      --plugin-dir DIR     load plugins from DIR first\n"
     "  -v, --verbose            also list each plugin's options\n"
     "  -h, --help               show this help\n"},
    {"version",
     "Usage: weft version\n\nPrints weft's version and its plugin ABI.\n"},
    {"help", "Usage: weft help [COMMAND]\n\nShows help for COMMAND.\n"},
};

int cli_print_usage(const char *command)
{
  for (size_t i = 0; i < sizeof usages / sizeof usages[0]; i++) {
    if (!strcmp(usages[i].command, command)) {
      fputs(usages[i].text, stdout);
      return 0;
    }
  }
  return -1;
}
