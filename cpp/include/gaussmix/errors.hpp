#pragma once
/// @file errors.hpp
/// Exceptions thrown by gaussmix. Every precondition on caller input is checked at the public
/// entry points and reported by throwing; nothing aborts.

#include <stdexcept>
#include <string>

namespace gaussmix {

/// A caller passed an invalid argument: bad shape, non-finite value, out-of-range option.
class InvalidArgument : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// A numerical failure on valid input, e.g. a covariance that is not positive definite.
/// Derives from std::invalid_argument too, so callers treating bad data generically catch it.
class NumericalError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

}  // namespace gaussmix
