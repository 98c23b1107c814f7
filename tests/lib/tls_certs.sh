# tls_certs.sh: test certificates made at test time with the openssl CLI (sourced; POSIX sh).
#
#   make_certs DIR    creates in DIR (EC P-256 keys; one leaf key, leaf.key, for every leaf):
#       ca.crt ca.key       the test CA (give spate --cacert DIR/ca.crt)
#       good.crt            SAN DNS:localhost, IP:127.0.0.1, IP:::1, signed by the CA
#       expired.crt         valid 2020-01-01 .. 2020-02-01 only     -> "certificate has expired"
#       notyet.crt          valid 2090-01-01 .. 2091-01-01 only     -> "certificate is not yet valid"
#       self.crt            self-signed (with SANs for localhost)   -> "self-signed certificate"
#       wrong.crt           SAN DNS:wrong.example                   -> "hostname mismatch"
#       untrusted.crt       good.crt's SANs, signed by another CA   -> "unable to get local issuer"
#       ipasdns.crt         SAN DNS:127.0.0.1 (an IP written as a name) -> "IP address mismatch"
#       cnonly.crt          CN=localhost and no SAN at all          -> "hostname mismatch" (spate
#                           never falls back to the subject CN)
#   Returns nonzero (and prints the failing step to stderr) when a step fails.
#   Keys are never committed: they live only in DIR.

make_certs() {
    (
        cd "$1" || exit 1
        _mc_run() {
            if ! _mc_o=$("$@" 2>&1); then
                echo "make_certs: failed: $*" >&2
                printf '%s\n' "$_mc_o" >&2
                exit 1
            fi
        }
        _mc_ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
        printf '%s\n' 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1' 'basicConstraints=CA:FALSE' \
            'keyUsage=critical,digitalSignature' 'extendedKeyUsage=serverAuth' >leaf.ext
        printf 'subjectAltName=DNS:wrong.example\n' >wrong.ext
        printf 'subjectAltName=DNS:127.0.0.1\n' >ipasdns.ext
        # `openssl ca` is the way to set exact validity windows (past and future).
        printf '%s\n' '[ca]' 'default_ca=t' '[t]' 'database=index.txt' 'new_certs_dir=.' \
            'serial=serial' 'certificate=ca.crt' 'private_key=ca.key' 'default_md=sha256' \
            'policy=p' 'unique_subject=no' '[p]' 'commonName=supplied' '[leaf]' \
            'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1' 'basicConstraints=CA:FALSE' \
            'keyUsage=critical,digitalSignature' 'extendedKeyUsage=serverAuth' >ca.cnf
        : >index.txt
        echo 01 >serial
        # shellcheck disable=SC2086
        _mc_run openssl req -x509 $_mc_ec -keyout ca.key -out ca.crt -days 3650 \
            -subj '/CN=spate test CA' \
            -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign'
        # shellcheck disable=SC2086
        _mc_run openssl req -x509 $_mc_ec -keyout other.key -out other.crt -days 3650 \
            -subj '/CN=other test CA' \
            -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign'
        # shellcheck disable=SC2086
        _mc_run openssl req $_mc_ec -keyout leaf.key -out leaf.csr -subj /CN=localhost
        _mc_run openssl x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
            -extfile leaf.ext -out good.crt
        _mc_run openssl ca -batch -notext -config ca.cnf -extensions leaf \
            -startdate 20200101000000Z -enddate 20200201000000Z -in leaf.csr -out expired.crt
        _mc_run openssl ca -batch -notext -config ca.cnf -extensions leaf \
            -startdate 20900101000000Z -enddate 20910101000000Z -in leaf.csr -out notyet.crt
        _mc_run openssl req -x509 -key leaf.key -out self.crt -days 30 -subj /CN=localhost \
            -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1'
        _mc_run openssl x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
            -extfile wrong.ext -out wrong.crt
        _mc_run openssl x509 -req -in leaf.csr -CA other.crt -CAkey other.key -CAcreateserial \
            -days 30 -extfile leaf.ext -out untrusted.crt
        _mc_run openssl x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
            -extfile ipasdns.ext -out ipasdns.crt
        printf 'basicConstraints=CA:FALSE\n' >cnonly.ext
        _mc_run openssl x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
            -extfile cnonly.ext -out cnonly.crt
        exit 0
    )
}
