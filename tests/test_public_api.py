"""The public surface: `__all__` lists exactly the public names; the seeds' signatures hold."""

from __future__ import annotations

import inspect
import types

import metalake
from metalake import Client


def test_all_lists_exactly_the_public_names():
    public = {
        name
        for name, value in vars(metalake).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(metalake.__all__) == public


def test_every_error_is_a_metalake_error():
    for name in metalake.__all__:
        value = getattr(metalake, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, metalake.MetaLakeError), name


SORT = "sort_order={'sort_by_field': 'date_modified', 'sort_order': 'DESC'}"
SEED_SIGNATURES = {
    "upload_files_to_collection": "(path, content_type, collection_name, meta_data_object={}, "
    "meta_data_override=False, file_meta_data_json_path=None, storage_prefix_path=None, "
    "annotation_data=None, *, metadata_file_path=None)",
    "file_upload": "(path, collection_type, collection_name, meta_data_object='', override=False)",
    "upload_metadata_for_collection": "(collection_name, content_type, metadata_obj={}, "
    "is_apply_to_all_files=True)",
    "upload_metadata_for_files": "(collection_name, content_type, file_meta_data_json_path)",
    "upload_metadata_by_job_id": "(job_id, file_meta_data_json_path)",
    "upload_metadata_by_storage_path": "(file_meta_data_json_path, bucket_name=None)",
    "upload_metadata_by_unique_name": "(file_meta_data_json_path)",
    "get_downloadable_url": "(file_key, *, expires_in=None)",
    "get_collection_id_by_name": "(collection_name, content_type='image')",
    "get_item_list_from_collection": "(collection_id, query='', filter={}, page_index=0, "
    f"page_size=20, {SORT})",
    "get_item_list_from_datalake": "(item_type, query='', filter={}, page_index=0, "
    f"page_size=20, {SORT})",
    "get_item_count_from_collection": "(collection_id, query='', filter={})",
    "get_item_count_from_metalake": "(item_type, query='', filter={})",
    "trash_objects_from_collection": "(collection_id, query='', filter={})",
    "trash_objects_from_datalake": "(datalake_query='', datalake_filter={}, content_type='image')",
    "download_files_from_metalake": "(item_type='image', custom_download_path='', "
    f"page_index=0, page_size=20, query='', filter={{}}, {SORT})",
    "download_files_from_collection": "(collection_id, custom_download_path='', page_index=0, "
    f"page_size=20, query='', filter={{}}, {SORT})",
    "restore_from_trash": "(collection_id='', query='', filter={}, content_type='image')",
    "empty_trash": "(older_than_days=30)",
    "create_or_update_collection": "(collection_name, content_type, query='', filter={})",
    "upload_annotations_for_collection": "(collection_name, operation_unique_id, "
    "json_data_file_path, is_normalized, is_model_run)",
    "upload_annotations_by_storage_path": "(operation_unique_id, json_data_file_path, "
    "is_normalized, is_model_run, bucket_name=None)",
    "upload_annotations_by_unique_name": "(operation_unique_id, json_data_file_path, "
    "is_normalized, is_model_run)",
    "upload_annotations_by_job_id": "(job_id, operation_unique_id, json_data_file_path, "
    "is_normalized, is_model_run)",
    "upload_annoations_for_folder": "(collection_name, operation_unique_id, json_data_file_path, "
    "shape_type, is_normalized, is_model_run, destination_project_id=None)",
    "remove_annotations": "(collection_id, operation_id)",
    "download_collection": "(collection_id, annotation_type='all', operation_id_list=[], "
    "custom_download_path='', is_media_include=True)",
    "download_annotations": "(collection_id, model_id, custom_download_path='', "
    "is_media_include=True)",
}


def test_seed_functions_keep_the_seeds_parameters_and_defaults():
    for name, expected in SEED_SIGNATURES.items():
        signature = inspect.signature(getattr(Client, name))
        params = list(signature.parameters.values())[1:]
        plain = signature.replace(
            parameters=[p.replace(annotation=inspect.Parameter.empty) for p in params],
            return_annotation=inspect.Signature.empty,
        )
        assert str(plain) == expected, name
