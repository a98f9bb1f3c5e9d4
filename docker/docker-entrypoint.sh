#!/bin/sh
# Entrypoint of the Swiftlet image, shaped like the official Redis image's:
#   docker run swiftlet                               -> swiftlet-server (protected mode off)
#   docker run swiftlet --requirepass x               -> swiftlet-server --requirepass x
#   docker run swiftlet /etc/redis.conf               -> swiftlet-server /etc/redis.conf
#   docker run swiftlet redis-server --requirepass x  -> the same server (redis-server is an alias)
#   docker run swiftlet redis-cli -h host PING        -> any other command runs as given
# Started as root, the server runs as the `swiftlet` user after /data is handed to it.
set -e

SWIFTLET_USER=${SWIFTLET_USER:-swiftlet}

# Options or a config file as the first argument: they are the server's.
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- swiftlet-server "$@"
fi

case "$1" in
	redis-server | swiftlet-server)
		server=1
		;;
	*)
		server=0
		;;
esac

if [ "$server" = 1 ]; then
	# As the Redis image (which builds its server with protected mode off): a container
	# is reached through a published port, not from localhost. A config file or an
	# explicit --protected-mode keeps the server's own default and choice.
	explicit=0
	for arg in "$@"; do
		case "$arg" in
			--protected-mode | *.conf) explicit=1 ;;
		esac
	done
	if [ "$explicit" = 0 ]; then
		set -- "$@" --protected-mode no
	fi

	# As the Redis image: without a umask of its own, dump.rdb is not world-readable.
	if [ "$(umask)" = 0022 ]; then
		umask 0077
	fi

	if [ "$(id -u)" = 0 ]; then
		# Files created in /data belong to the server's user, whatever mounted the volume.
		find . \! -user "$SWIFTLET_USER" -exec chown "$SWIFTLET_USER" '{}' +
		exec setpriv --reuid="$SWIFTLET_USER" --regid="$SWIFTLET_USER" --init-groups "$@"
	fi
fi

exec "$@"
