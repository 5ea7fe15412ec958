#!/usr/bin/env python3
"""N RTSP cameras from one process, for bench/cameras: GStreamer's RTSP server serving an H.264 MP4 as is.

    rtsp_server.py PORT CLIP N      # rtsp://127.0.0.1:PORT/cam0 ... /cam{N-1}

A bench-local variant of tests/integration/rtsp_server.py: the clip is already H.264 (run.sh re-encodes it
once with ffmpeg), so each client's pipeline only demuxes and packetises (no decode, no x264 here), which keeps
the server's CPU out of the way of the server under test on a two-core machine. Each client gets its own
pipeline from the clip's start, paced in real time by the RTSP sinks. Run it with Debian's python3 (the one
that imports `gi`). Prints "ready" on stdout once it listens.
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    if len(sys.argv) != 4:
        sys.stderr.write("usage: rtsp_server.py PORT CLIP N\n")
        return 2
    port, clip, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    mounts = server.get_mount_points()
    for i in range(n):
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(
            "( filesrc location=%s ! qtdemux ! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 )" % clip
        )
        factory.set_shared(False)
        mounts.add_factory("/cam%d" % i, factory)
    if server.attach(None) == 0:
        sys.stderr.write("rtsp_server: cannot listen on port %s\n" % port)
        return 1
    print("ready", flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
