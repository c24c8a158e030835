#pragma once
/// @file version.hpp
/// The single source of the version: CMake and the Python package metadata read it from here.

#define GAUSSMIX_VERSION_MAJOR 0
#define GAUSSMIX_VERSION_MINOR 1
#define GAUSSMIX_VERSION_PATCH 0
#define GAUSSMIX_VERSION "0.1.0"
