/* Runs one data-movement or generator op through prepare → infer → kernel, for the unit tests
 * test_ops_movement.c and test_ops_generate.c. */
#ifndef EML_TESTS_UNIT_MOVEMENT_RUN_H
#define EML_TESTS_UNIT_MOVEMENT_RUN_H

#include "kernels/ref/movement.h"
#include "op_test_util.h"

/* Called directly (not through the op table) so that the test links these objects for sure. */
static const op_fns movement_fns[] = {
    {"Reshape", eml__reshape_prepare, eml__reshape_infer, eml__ref_copy},
    {"Flatten", eml__flatten_prepare, eml__flatten_infer, eml__ref_copy},
    {"Squeeze", eml__squeeze_prepare, eml__squeeze_infer, eml__ref_copy},
    {"Unsqueeze", eml__unsqueeze_prepare, eml__unsqueeze_infer, eml__ref_copy},
    {"Identity", eml__identity_prepare, eml__identity_infer, eml__ref_copy},
    {"Dropout", eml__dropout_prepare, eml__dropout_infer, eml__ref_dropout},
    {"Transpose", eml__transpose_prepare, eml__transpose_infer, eml__ref_transpose},
    {"Concat", eml__concat_prepare, eml__concat_infer, eml__ref_concat},
    {"Split", eml__split_prepare, eml__split_infer, eml__ref_split},
    {"Slice", eml__slice_prepare, eml__slice_infer, eml__ref_slice},
    {"Gather", eml__gather_prepare, eml__gather_infer, eml__ref_gather},
    {"GatherElements", eml__gather_prepare, eml__gather_elements_infer, eml__ref_gather_elements},
    {"Tile", eml__tile_prepare, eml__tile_infer, eml__ref_tile},
    {"Pad", eml__pad_prepare, eml__pad_infer, eml__ref_pad},
    {"DepthToSpace", eml__depth_space_prepare, eml__depth_space_infer, eml__ref_depth_space},
    {"SpaceToDepth", eml__depth_space_prepare, eml__depth_space_infer, eml__ref_depth_space},
    {"Shape", eml__shape_prepare, eml__shape_infer, eml__ref_shape},
    {"Size", eml__size_prepare, eml__size_infer, eml__ref_size},
    {"ConstantOfShape", eml__constant_of_shape_prepare, eml__constant_of_shape_infer,
     eml__ref_constant_of_shape},
    {"Constant", eml__constant_prepare, eml__constant_infer, eml__ref_constant},
    {"Range", eml__range_prepare, eml__range_infer, eml__ref_range},
    {"EyeLike", eml__eye_like_prepare, eml__eye_like_infer, eml__ref_eye_like},
    {"OneHot", eml__one_hot_prepare, eml__one_hot_infer, eml__ref_one_hot},
    {"NonZero", eml__nonzero_prepare, eml__nonzero_infer, eml__ref_nonzero},
    {"Trilu", eml__trilu_prepare, eml__trilu_infer, eml__ref_trilu},
    {NULL},
};

static const op_fns *op_test_fns = movement_fns;

#endif
