#!/bin/sh
# Installs the named Debian packages that are not installed yet; does nothing when all are.
# Packaged services (munge, slurmctld, slurmd, nginx...) are never started by the install: the tests
# start private instances themselves, and a system-wide daemon would hold their ports and sockets.
missing=""
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
# invoke-rc.d asks /usr/sbin/policy-rc.d before starting a service; exit 101 means "not allowed".
# One that exists already is the machine's own and stays as it is.
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\n# spate apt-ensure: no service starts during this install\nexit 101\n' |
        $SUDO tee "$POLICY" >/dev/null && $SUDO chmod 755 "$POLICY" &&
        trap '$SUDO rm -f "$POLICY"' EXIT
fi
$SUDO apt-get update -qq || exit 1
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
