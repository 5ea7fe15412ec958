/*
 * cli_model.c — `mien model info MODEL [--json]` and
 * `mien model run MODEL --input IN.npy [--input-name NAME] [...] --out DIR [--threads N]`.
 *
 * `run` is how the engine is checked from outside: a reference script writes .npy inputs, mien writes
 * every output as DIR/<name>.npy (name with characters outside [A-Za-z0-9_.-] replaced by '_', as
 * tests/ref/tfjs_common.mjs safeFileName does), and the two are compared.
 */
#include "cli/cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "nn/nn.h"
#include "nn/npy.h"

#define MAX_RUN_INPUTS   16
#define MAX_MODEL_INPUTS 16

static const char MODEL_USAGE[] =
        "usage: mien model info MODEL [--json]\n"
        "       mien model run MODEL --input IN.npy [--input-name NAME] [--input ...] --out DIR [--threads N]\n"
        "\n"
        "MODEL is a path to a TF.js model.json or a face-api *-weights_manifest.json, or a short name\n"
        "(blazeface-back, mobilefacenet, ssd_mobilenetv1, ...) resolved under MIEN_MODELS.\n"
        "run: each --input-name pairs with the --input in the same position; without names, inputs are\n"
        "given in the model's input order. Runs at the shape of each .npy.\n";

static int usage_error(const char *fmt, const char *arg)
{
	char msg[512];
	snprintf(msg, sizeof(msg), fmt, arg ? arg : "");
	cli_error("%s", msg);
	fputs(MODEL_USAGE, stderr);
	return CLI_EXIT_USAGE;
}

/* Published shape with an open (batch) dimension taken as 1, as nn_runtime_create does. */
static nn_shape concrete_shape(nn_shape shape)
{
	for (int d = 0; d < shape.rank; d++)
		if (shape.dims[d] < 0)
			shape.dims[d] = 1;
	return shape;
}

static json_t *shape_json(const nn_shape *shape)
{
	json_t *a = json_array();
	for (int d = 0; a && d < shape->rank; d++)
		json_array_append_new(a, json_integer((json_int_t)shape->dims[d]));
	return a;
}

/* --- info ------------------------------------------------------------------------------------------ */

static int model_info(const char *spec, int as_json, const mien_config *cfg)
{
	nn_model *model = NULL;
	nn_runtime *runtime = NULL;
	json_t *root = NULL;
	nn_model_info info;
	mien_error err;
	int status = CLI_EXIT_FAIL;
	char buf[128];

	if (nn_model_load(spec, cfg->models, &model, &err)) {
		cli_error("%s", err.message);
		goto done;
	}
	if (nn_model_get_info(model, &info, &err)) {
		cli_error("%s", err.message);
		goto done;
	}
	/* Output shapes are known once a runtime exists at the published input shapes. */
	mien_error rt_err;
	if (nn_runtime_create(model, NULL, NULL, &runtime, &rt_err))
		mien_log(MIEN_LOG_WARN, "cli", "%s: output shapes unknown: %s", nn_model_name(model), rt_err.message);

	size_t n_in = nn_model_input_count(model);
	size_t n_out = nn_model_output_count(model);
	double weight_mb = (double)info.weight_bytes / (1024.0 * 1024.0);

	if (as_json) {
		root = json_object();
		json_t *inputs = json_array();
		json_t *outputs = json_array();
		json_t *ops = json_object();
		json_object_set_new(root, "name", json_string(nn_model_name(model)));
		json_object_set_new(root, "path", json_string(nn_model_path(model)));
		json_object_set_new(root, "format", json_string(info.format ? info.format : ""));
		json_object_set_new(root, "weight_dtype", json_string(info.weight_dtype ? info.weight_dtype : ""));
		for (size_t i = 0; i < n_in; i++) {
			nn_shape s = nn_model_input_shape(model, i);
			json_array_append_new(inputs, json_pack("{s:s, s:o}", "name", nn_model_input_name(model, i),
			                                        "shape", shape_json(&s)));
		}
		for (size_t i = 0; i < n_out; i++) {
			nn_shape s;
			json_t *o = json_pack("{s:s}", "name", nn_model_output_name(model, i));
			json_t *shape = json_null();
			if (runtime) {
				nn_runtime_output(runtime, i, &s);
				json_decref(shape);
				shape = shape_json(&s);
			}
			json_object_set_new(o, "shape", shape);
			json_array_append_new(outputs, o);
		}
		for (size_t k = 0; k < info.op_kinds && k < MIEN_ARRAY_LEN(info.ops); k++)
			json_object_set_new(ops, info.ops[k].op, json_integer(info.ops[k].count));
		json_object_set_new(root, "inputs", inputs);
		json_object_set_new(root, "outputs", outputs);
		json_object_set_new(root, "nodes", json_integer(info.node_count));
		json_object_set_new(root, "ops", ops);
		json_object_set_new(root, "parameters", json_integer((json_int_t)info.parameters));
		json_object_set_new(root, "weight_bytes", json_integer((json_int_t)info.weight_bytes));
		json_object_set_new(root, "weight_mb", json_real(weight_mb));
		json_object_set_new(root, "mmac", json_real(info.mmac));
		json_object_set_new(root, "resizable", json_boolean(nn_model_resizable(model)));
		char *text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
		if (!text) {
			cli_error("out of memory");
			goto done;
		}
		puts(text);
		free(text);
	} else {
		printf("name        %s\n", nn_model_name(model));
		printf("path        %s\n", nn_model_path(model));
		printf("format      %s\n", info.format ? info.format : "?");
		printf("weights     %s\n", info.weight_dtype ? info.weight_dtype : "?");
		for (size_t i = 0; i < n_in; i++) {
			nn_shape s = nn_model_input_shape(model, i);
			printf("%s %s %s\n", i ? "           " : "inputs     ", nn_model_input_name(model, i),
			       nn_shape_str(&s, buf, sizeof(buf)));
		}
		for (size_t i = 0; i < n_out; i++) {
			nn_shape s;
			const char *shape_text = "?";
			if (runtime) {
				nn_runtime_output(runtime, i, &s);
				shape_text = nn_shape_str(&s, buf, sizeof(buf));
			}
			printf("%s %s %s\n", i ? "           " : "outputs    ", nn_model_output_name(model, i),
			       shape_text);
		}
		printf("resizable   %s\n", nn_model_resizable(model) ? "yes" : "no");
		printf("nodes       %d\n", info.node_count);
		printf("parameters  %lld\n", (long long)info.parameters);
		printf("weight MB   %.2f\n", weight_mb);
		printf("MMAC        %.1f\n", info.mmac);
		for (size_t k = 0; k < info.op_kinds && k < MIEN_ARRAY_LEN(info.ops); k++)
			printf("%s %-24s %d\n", k ? "           " : "ops        ", info.ops[k].op, info.ops[k].count);
	}
	status = CLI_EXIT_OK;
done:
	json_decref(root);
	nn_runtime_free(&runtime);
	nn_model_free(&model);
	return status;
}

/* --- run ------------------------------------------------------------------------------------------- */

typedef struct run_input {
	const char *name; /* borrowed from argv, or NULL: by position */
	const char *file;
	float *data; /* owned */
	nn_shape shape;
	int index; /* model input index */
} run_input;

static int model_run(const char *spec, run_input *inputs, size_t n_inputs, const char *out_dir, long threads,
                     const mien_config *cfg)
{
	nn_model *model = NULL;
	nn_pool *pool = NULL;
	nn_runtime *runtime = NULL;
	nn_shape shapes[MAX_MODEL_INPUTS];
	mien_error err;
	int status = CLI_EXIT_FAIL;
	char path[4096], file[1024], buf[128];

	if (nn_model_load(spec, cfg->models, &model, &err)) {
		cli_error("%s", err.message);
		goto done;
	}
	const char *model_name = nn_model_name(model);
	size_t n_model_in = nn_model_input_count(model);
	if (n_model_in > MAX_MODEL_INPUTS) {
		cli_error("%s: %zu inputs is more than this command handles (%d)", model_name, n_model_in,
		          MAX_MODEL_INPUTS);
		goto done;
	}
	if (n_inputs != n_model_in) {
		cli_error("%s has %zu input%s but %zu --input %s given", model_name, n_model_in,
		          n_model_in == 1 ? "" : "s", n_inputs, n_inputs == 1 ? "was" : "were");
		status = CLI_EXIT_USAGE;
		goto done;
	}
	for (size_t i = 0; i < n_model_in; i++)
		shapes[i] = concrete_shape(nn_model_input_shape(model, i));
	for (size_t k = 0; k < n_inputs; k++) {
		run_input *in = &inputs[k];
		if (in->name) {
			in->index = nn_model_input_index(model, in->name);
			if (in->index < 0) {
				cli_error("%s has no input named '%s'", model_name, in->name);
				status = CLI_EXIT_USAGE;
				goto done;
			}
		} else {
			in->index = (int)k;
		}
		for (size_t j = 0; j < k; j++) {
			if (inputs[j].index == in->index) {
				cli_error("%s: input '%s' is given twice", model_name,
				          nn_model_input_name(model, (size_t)in->index));
				status = CLI_EXIT_USAGE;
				goto done;
			}
		}
		if (nn_npy_read(in->file, &in->data, &in->shape, &err)) {
			cli_error("%s", err.message);
			goto done;
		}
		shapes[in->index] = in->shape;
	}

	if (nn_pool_create((size_t)threads, &pool, &err) || nn_runtime_create(model, shapes, pool, &runtime, &err)) {
		cli_error("%s", err.message);
		goto done;
	}
	for (size_t k = 0; k < n_inputs; k++) {
		nn_shape have;
		float *dst = nn_runtime_input(runtime, (size_t)inputs[k].index, &have);
		int64_t want = nn_npy_count(&inputs[k].shape);
		if (!dst || nn_npy_count(&have) != want) {
			char got_text[128];
			cli_error("%s: input '%s' is %s in the runtime but %s is %s", model_name,
			          nn_model_input_name(model, (size_t)inputs[k].index),
			          nn_shape_str(&have, got_text, sizeof(got_text)), inputs[k].file,
			          nn_shape_str(&inputs[k].shape, buf, sizeof(buf)));
			goto done;
		}
		memcpy(dst, inputs[k].data, (size_t)want * sizeof(float));
	}
	double t0 = cli_now_ms();
	if (nn_runtime_run(runtime, &err)) {
		cli_error("%s", err.message);
		goto done;
	}
	double elapsed = cli_now_ms() - t0;

	size_t n_out = nn_model_output_count(model);
	/* Refuse two outputs that would land in one file rather than overwrite one with the other. */
	for (size_t i = 0; i < n_out; i++) {
		char a[1024], b[1024];
		cli_safe_file_name(nn_model_output_name(model, i), a, sizeof(a));
		for (size_t j = 0; j < i; j++) {
			cli_safe_file_name(nn_model_output_name(model, j), b, sizeof(b));
			if (strcmp(a, b) == 0) {
				cli_error("%s: outputs '%s' and '%s' both map to file %s.npy", model_name,
				          nn_model_output_name(model, j), nn_model_output_name(model, i), a);
				goto done;
			}
		}
	}
	if (cli_mkdir_p(out_dir, &err)) {
		cli_error("%s", err.message);
		goto done;
	}
	for (size_t i = 0; i < n_out; i++) {
		nn_shape shape;
		const float *data = nn_runtime_output(runtime, i, &shape);
		cli_safe_file_name(nn_model_output_name(model, i), file, sizeof(file));
		snprintf(path, sizeof(path), "%s/%s.npy", out_dir, file);
		if (!data) {
			cli_error("%s: output '%s' has no data", model_name, nn_model_output_name(model, i));
			goto done;
		}
		if (nn_npy_write(path, data, &shape, &err)) {
			cli_error("%s", err.message);
			goto done;
		}
		printf("%s %s %s\n", nn_model_output_name(model, i), nn_shape_str(&shape, buf, sizeof(buf)), path);
	}
	mien_log(MIEN_LOG_INFO, "cli", "%s: ran in %.2f ms on %ld thread%s", model_name, elapsed, threads,
	         threads == 1 ? "" : "s");
	status = CLI_EXIT_OK;
done:
	nn_runtime_free(&runtime);
	nn_pool_destroy(&pool);
	nn_model_free(&model);
	return status;
}

/* --- dispatch -------------------------------------------------------------------------------------- */

int cli_model_main(int argc, char **argv, const mien_config *cfg)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		fputs(MODEL_USAGE, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	const char *verb = argv[1];
	int is_info = strcmp(verb, "info") == 0;
	int is_run = strcmp(verb, "run") == 0;
	if (!is_info && !is_run)
		return usage_error("unknown command 'model %s'", verb);

	const char *spec = NULL, *out_dir = NULL, *value = NULL;
	const char *names[MAX_RUN_INPUTS];
	run_input inputs[MAX_RUN_INPUTS];
	size_t n_names = 0, n_files = 0;
	int as_json = 0;
	long threads = cfg->threads;
	memset(inputs, 0, sizeof(inputs));

	for (int i = 2; i < argc; i++) {
		const char *arg = argv[i];
		int m;
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			fputs(MODEL_USAGE, stdout);
			return CLI_EXIT_OK;
		}
		if (is_info && strcmp(arg, "--json") == 0) {
			as_json = 1;
		} else if (is_run && (m = cli_option(argc, argv, &i, "--input-name", &value)) != 0) {
			if (m < 0)
				return CLI_EXIT_USAGE;
			if (n_names == MAX_RUN_INPUTS)
				return usage_error("too many --input-name options", NULL);
			names[n_names++] = value;
		} else if (is_run && (m = cli_option(argc, argv, &i, "--input", &value)) != 0) {
			if (m < 0)
				return CLI_EXIT_USAGE;
			if (n_files == MAX_RUN_INPUTS)
				return usage_error("too many --input options", NULL);
			inputs[n_files++].file = value;
		} else if (is_run && (m = cli_option(argc, argv, &i, "--out", &value)) != 0) {
			if (m < 0)
				return CLI_EXIT_USAGE;
			out_dir = value;
		} else if (is_run && (m = cli_option(argc, argv, &i, "--threads", &value)) != 0) {
			if (m < 0)
				return CLI_EXIT_USAGE;
			if (cli_parse_int(value, 1, 256, &threads))
				return usage_error("--threads wants a number from 1 to 256, not '%s'", value);
		} else if (arg[0] == '-' && arg[1] != '\0') {
			return usage_error("unknown option '%s'", arg);
		} else if (!spec) {
			spec = arg;
		} else {
			return usage_error("unexpected argument '%s'", arg);
		}
	}
	if (!spec)
		return usage_error("model %s needs a MODEL", verb);
	if (is_info)
		return model_info(spec, as_json, cfg);

	if (n_files == 0)
		return usage_error("model run needs --input IN.npy", NULL);
	if (!out_dir)
		return usage_error("model run needs --out DIR", NULL);
	if (n_names != 0 && n_names != n_files)
		return usage_error("give one --input-name per --input (or none)", NULL);
	for (size_t k = 0; k < n_names; k++)
		inputs[k].name = names[k];

	int status = model_run(spec, inputs, n_files, out_dir, threads, cfg);
	for (size_t k = 0; k < n_files; k++)
		free(inputs[k].data);
	return status;
}
