// How the SIMD micro-kernels pick their accumulator rows: a template per
// row count, the fewest that cover a tile. Included inside the kernel file's
// anonymous namespace.

// A compile-time int, to hand template arguments to a generic lambda.
template <int V>
struct IntConstant {
  static constexpr int value = V;
};

// tile(IntConstant<R>{}) for R the smallest of the descending list R, Next,
// Rest... that is >= m (1 <= m <= the first). A tile of the last rows of a
// product (rows 24-31 of a batch of 32) then costs 8 rows of work, not 12.
template <int R, int Next, int... Rest, class Tile>
inline void call_with_rows(int m, Tile&& tile) {
  if (m > Next) {
    tile(IntConstant<R>{});
  } else {
    call_with_rows<Next, Rest...>(m, tile);
  }
}

template <int R, class Tile>
inline void call_with_rows(int, Tile&& tile) {
  tile(IntConstant<R>{});
}
