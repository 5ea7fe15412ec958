// Speed peer for mien's pipeline: OpenCV's Haar cascade face detector (Viola-Jones), the classic CPU
// baseline, on one photo.
//
//   build/bench/haar [--image models/samples/sample1.jpg] [--threads 1] [--runs 20] [--warmup 2]
//                    [--cascade /usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml]
//
// Timed: BGR -> grey (cv::cvtColor) + CascadeClassifier::detectMultiScale(scaleFactor 1.1, minNeighbors 5,
// minSize 24x24) on the decoded photo; the JPEG decode (cv::imread) is reported apart as decode_ms.
// cv::setNumThreads(--threads) bounds OpenCV's parallel_for_ (detectMultiScale splits its scales over it).
// Prints one JSON line on stdout: {"peer":"opencv-haar","threads":1,"median_ms":...,"faces":...,...}
#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

static double now_ms() {
	using clock = std::chrono::steady_clock;
	return std::chrono::duration<double, std::milli>(clock::now().time_since_epoch()).count();
}

static double pct(std::vector<double> v, double p) {
	std::sort(v.begin(), v.end());
	size_t n = v.size();
	if (n == 0) return 0;
	if (p == 0.5) return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[std::min(i, n - 1)];
}

static void usage(const char *argv0) {
	std::fprintf(stderr, "usage: %s [--image FILE] [--threads N] [--runs N] [--warmup N] [--cascade XML]\n", argv0);
	std::exit(2);
}

int main(int argc, char **argv) {
	std::string image = "models/samples/sample1.jpg";
	std::string cascade_path = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml";
	int threads = 1, runs = 20, warmup = 2;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (i + 1 >= argc) usage(argv[0]);
		if (!std::strcmp(a, "--image")) image = argv[++i];
		else if (!std::strcmp(a, "--threads")) threads = std::atoi(argv[++i]);
		else if (!std::strcmp(a, "--runs")) runs = std::atoi(argv[++i]);
		else if (!std::strcmp(a, "--warmup")) warmup = std::atoi(argv[++i]);
		else if (!std::strcmp(a, "--cascade")) cascade_path = argv[++i];
		else usage(argv[0]);
	}
	if (threads < 1 || runs < 1 || warmup < 0) usage(argv[0]);
	cv::setNumThreads(threads);

	cv::CascadeClassifier cascade;
	if (!cascade.load(cascade_path)) {
		std::fprintf(stderr, "haar: cannot load cascade %s\n", cascade_path.c_str());
		return 1;
	}
	double t0 = now_ms();
	cv::Mat bgr = cv::imread(image, cv::IMREAD_COLOR);
	double decode_ms = now_ms() - t0;
	if (bgr.empty()) {
		std::fprintf(stderr, "haar: cannot read %s\n", image.c_str());
		return 1;
	}

	std::vector<cv::Rect> faces;
	auto once = [&]() {
		cv::Mat grey;
		cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
		faces.clear();
		cascade.detectMultiScale(grey, faces, 1.1, 5, 0, cv::Size(24, 24));
	};
	for (int i = 0; i < warmup; i++) once();
	std::vector<double> times;
	for (int i = 0; i < runs; i++) {
		double s = now_ms();
		once();
		times.push_back(now_ms() - s);
	}

	std::printf("{\"peer\":\"opencv-haar\",\"threads\":%d,\"median_ms\":%.2f,\"p10_ms\":%.2f,\"p90_ms\":%.2f,"
		    "\"min_ms\":%.2f,\"runs\":%d,\"faces\":%zu,\"decode_ms\":%.2f,\"width\":%d,\"height\":%d,"
		    "\"opencv\":\"%s\",\"opencv_threads\":%d,\"params\":{\"scaleFactor\":1.1,\"minNeighbors\":5,"
		    "\"minSize\":[24,24]},\"boxes\":[",
		    threads, pct(times, 0.5), pct(times, 0.1), pct(times, 0.9), pct(times, 0.0), runs, faces.size(),
		    decode_ms, bgr.cols, bgr.rows, CV_VERSION, cv::getNumThreads());
	for (size_t i = 0; i < faces.size(); i++)
		std::printf("%s[%d,%d,%d,%d]", i ? "," : "", faces[i].x, faces[i].y, faces[i].width, faces[i].height);
	std::printf("]}\n");
	return 0;
}
