/*
 * gw_profile.c - the behaviour profiles (WSGICompatibility 3.4 | 5 | 6): one row per
 * mod_wsgi release imitated, every difference between them a field, and the only place
 * that compares profile ids.
 */
#include "gw_profile.h"

#include <stddef.h>
#include <string.h>

static const gw_profile_info gw_profiles[] = {
    { .id = GW_PROFILE_34,
      .name = "3.4",
      .version = { 3, 4, 0 },
      .version_len = 2,
      .timing_queue_start_is_request = 1,
      .script_start_key = "mod_wsgi.script_start",
      .case_sensitivity_inverted = 1,
      .lenient_py3_types = 1,
      .map_head_default = -1,
      .has_input_chunked_key = 1,
      .has_legacy_keys = 1,
      .has_cgi_legacy_vars = 1,
      .daemon_pre_header_death_status = 500,
      .daemon_graceful_timeout = 0,
      .daemon_threads_minimum = 1,
      .daemon_cwd_user_home = 1,
      .daemon_refuses_chunked = 1,
      .daemon_missing_callable_500 = 1 },
    { .id = GW_PROFILE_5,
      .name = "5",
      .version = { 5, 0, 2 },
      .version_len = 3,
      .script_start_key = "mod_wsgi.script_start",
      .has_ignore_activity_key = 1,
      .case_sensitivity_inverted = 1,
      .strict_status = 1,
      .strict_headers = 1,
      .map_head_default = 0,
      .has_legacy_keys = 1,
      .has_cgi_legacy_vars = 1,
      .has_apache_version_key = 1,
      .has_input_terminated = 1,
      .has_request_ids = 1,
      .has_script_name_keys = 1,
      .has_request_counters = 1,
      .errors_text_wrapper = 1,
      .daemon_pre_header_death_status = 500,
      .file_wrapper_class = 1,
      .locale_exports_lc_all = 1,
      .input_error_state = "Apache/mod_wsgi request data read error: Input is already in "
                           "error state.",
      .input_close_args_first = 1,
      .log_has_name = 1,
      .alias_match_group_options = 1,
      .warns_unusable_home = 1,
      .daemon_graceful_timeout = 15 },
    { .id = GW_PROFILE_6,
      .name = "6",
      .version = { 6, 1, 1 },
      .version_len = 3,
      .timing_float = 1,
      .timing_all_keys = 1,
      .script_start_key = "mod_wsgi.application_start",
      .strict_status = 1,
      .status_code_alone_ok = 1,
      .strict_headers = 1,
      .map_head_default = -1,
      .has_server_pid_key = 1,
      .has_apache_version_key = 1,
      .has_input_terminated = 1,
      .has_request_ids = 1,
      .has_script_name_keys = 1,
      .errors_text_wrapper = 1,
      .log_names_script = 1,
      .utf8_locale_coercion = 1,
      .daemon_pre_header_death_status = 502,
      .file_wrapper_class = 1,
      .locale_exports_lc_all = 1,
      .input_expired_names_call = 1,
      .input_error_state = "mod_wsgi request data read error: input is already in error state",
      .input_close_args_first = 1,
      .errors_flush_expired_ok = 1,
      .log_has_name = 1,
      .log_type_module_in_dict = 1,
      .alias_match_group_options = 1,
      .warns_unusable_home = 1,
      .daemon_graceful_timeout = 15 },
};

static gw_profile_t current;       /* WSGICompatibility's, server-wide */

void gw_profile_reset(void)
{
    current = GW_PROFILE_5;
}

const gw_profile_info *gw_profile(void)
{
    switch (current) {
    case GW_PROFILE_34: return &gw_profiles[0];
    case GW_PROFILE_6: return &gw_profiles[2];
    default: return &gw_profiles[1];
    }
}

const char *gw_profile_select(const char *arg)
{
    if (!strcmp(arg, "3.4") || !strcmp(arg, "3"))
        current = GW_PROFILE_34;
    else if (!strcmp(arg, "5") || !strcmp(arg, "4") || !strcmp(arg, "4.9"))
        current = GW_PROFILE_5;
    else if (!strcmp(arg, "6"))
        current = GW_PROFILE_6;
    else
        return "WSGICompatibility must be one of: 3.4 | 5 | 6";
    return NULL;
}
