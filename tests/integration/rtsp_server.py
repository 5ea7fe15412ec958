#!/usr/bin/env python3
"""A real RTSP camera for the video tests: GStreamer's RTSP server serving a clip as H.264.

    rtsp_server.py PORT CLIP [MOUNT]      # rtsp://127.0.0.1:PORT/MOUNT (default "cam")

Run it with Debian's python3 (the one that imports `gi`, see MACHINE-NOTES.md). It prints "ready" on
stdout once it listens, and serves until killed. Each client gets its own pipeline from the clip's start.
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    if len(sys.argv) < 3:
        sys.stderr.write("usage: rtsp_server.py PORT CLIP [MOUNT]\n")
        return 2
    port, clip = sys.argv[1], sys.argv[2]
    mount = sys.argv[3] if len(sys.argv) > 3 else "cam"
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        "( filesrc location=%s ! decodebin ! videoconvert ! "
        "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 ! rtph264pay name=pay0 pt=96 )" % clip
    )
    factory.set_shared(False)
    server.get_mount_points().add_factory("/" + mount, factory)
    if server.attach(None) == 0:
        sys.stderr.write("rtsp_server: cannot listen on port %s\n" % port)
        return 1
    print("ready", flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
