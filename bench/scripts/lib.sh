# Shell helpers the benchmark scripts share (sourced, not run): loopback ports.

# A free TCP port on 127.0.0.1 (the kernel's choice; free when asked, taken by the caller next).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits up to 30 s for HOST:PORT to accept a connection; WHAT names the server in the error.
wait_for_port() { # host port what
    local i
    for i in $(seq 1 300); do
        if python3 -c 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 0.2)' "$1" "$2" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "error: $3 did not start listening on $1:$2" >&2
    return 1
}
