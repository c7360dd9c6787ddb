using EfficientViT.ML.Data;
using EfficientViT.ML.Preprocessing;

namespace EfficientViT.ML.Tests.Data;

/// <summary>
/// The resize of the transforms, the featurizer and the exported graph against Pillow 9.4's own
/// <c>Image.resize</c>: its exact weights (read from mode-F images, which resample without fixed point) and its
/// 8-bit results (mode L and RGB). The values were printed by Fixtures/golden/make_resize_reference.py.
/// </summary>
public class FilteredResizeTests
{
    // Row o of each matrix: the weight of every input pixel in output pixel o.
    public static TheoryData<ImageInterpolation, int, int, double[][]> PillowWeights => new()
    {
        { ImageInterpolation.Bicubic, 4, 2, [[0.4586777, 0.4586777, 0.1198347, -0.0371901], [-0.0371901, 0.1198347, 0.4586777, 0.4586777]] },
        { ImageInterpolation.Bicubic, 5, 3, [[0.5846154, 0.4461538, 0.0, -0.0307692, 0.0], [-0.0372093, 0.2465116, 0.5813953, 0.2465116, -0.0372093], [0.0, -0.0307692, 0.0, 0.4461538, 0.5846154]] },
        { ImageInterpolation.Bicubic, 3, 7, [[1.0961539, -0.0961538, 0.0], [0.9058172, 0.1024931, -0.0083102], [0.4404432, 0.6260388, -0.066482], [0.0, 1.0, 0.0], [-0.066482, 0.6260388, 0.4404432], [-0.0083102, 0.1024931, 0.9058172], [0.0, -0.0961538, 1.0961539]] },
        { ImageInterpolation.Bicubic, 10, 4, [[0.3518119, 0.4212683, 0.2426661, 0.0295513, -0.0317084, -0.0135893, 0.0, 0.0, 0.0, 0.0], [-0.0290342, 0.0270591, 0.2222003, 0.3857397, 0.322141, 0.1143591, -0.0159984, -0.0246889, -0.0017776, 0.0], [0.0, -0.0017776, -0.0246889, -0.0159984, 0.1143591, 0.322141, 0.3857397, 0.2222003, 0.0270591, -0.0290342], [0.0, 0.0, 0.0, 0.0, -0.0135893, -0.0317084, 0.0295513, 0.2426661, 0.4212683, 0.3518119]] },
        { ImageInterpolation.Bilinear, 4, 2, [[0.4285714, 0.4285714, 0.1428571, 0.0], [0.0, 0.1428571, 0.4285714, 0.4285714]] },
        { ImageInterpolation.Bilinear, 5, 3, [[0.5714286, 0.4285714, 0.0, 0.0, 0.0], [0.0, 0.2222222, 0.5555556, 0.2222222, 0.0], [0.0, 0.0, 0.0, 0.4285714, 0.5714286]] },
        { ImageInterpolation.Bilinear, 3, 7, [[1.0, 0.0, 0.0], [0.8571429, 0.1428571, 0.0], [0.4285714, 0.5714286, 0.0], [0.0, 1.0, 0.0], [0.0, 0.5714286, 0.4285714], [0.0, 0.1428571, 0.8571429], [0.0, 0.0, 1.0]] },
        { ImageInterpolation.Bilinear, 10, 4, [[0.3181818, 0.4090909, 0.2272727, 0.0454545, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.04, 0.2, 0.36, 0.28, 0.12, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.12, 0.28, 0.36, 0.2, 0.04, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0454545, 0.2272727, 0.4090909, 0.3181818]] },
    };

    // Shrinking (the filter widened: antialiasing) and enlarging, both filters.
    [Theory]
    [MemberData(nameof(PillowWeights))]
    public void The_weights_are_pillow_s(ImageInterpolation filter, int input, int output, double[][] expected)
    {
        for (var o = 0; o < output; o++)
        {
            var exact = new double[input];
            foreach (var (index, weight) in ResampleWeights.ExactTaps(filter, input, output, o))
                exact[index] = weight;
            var rounded = new double[input];
            foreach (var (index, weight) in ResampleWeights.Taps(filter, input, output, o))
                rounded[index] = weight;
            for (var i = 0; i < input; i++)
            {
                Assert.Equal(expected[o][i], exact[i], 6e-7);
                Assert.Equal(expected[o][i], rounded[i], 1.0 / (1 << (ResampleWeights.FractionBits + 1)) + 6e-7);
            }
        }
    }

    private static readonly byte[] Gray9x7 = [0, 37, 74, 111, 148, 185, 222, 3, 40, 91, 141, 191, 241, 35, 85, 135, 185, 235, 182, 245, 52, 115, 178, 241, 48, 111, 174, 17, 93, 169, 245, 65, 141, 217, 37, 113, 108, 197, 30, 119, 208, 41, 130, 219, 52, 199, 45, 147, 249, 95, 197, 43, 145, 247, 34, 149, 8, 123, 238, 97, 212, 71, 186];

    public static TheoryData<ImageInterpolation, int, int, byte[]> PillowGrayResults => new()
    {
        { ImageInterpolation.Bicubic, 4, 3, [103, 139, 140, 130, 128, 148, 137, 124, 103, 142, 137, 151] },
        { ImageInterpolation.Bilinear, 4, 3, [107, 138, 139, 131, 122, 148, 137, 124, 109, 142, 137, 150] },
        { ImageInterpolation.Bicubic, 13, 11, [0, 10, 38, 63, 87, 117, 156, 182, 219, 218, 32, 0, 28, 32, 51, 87, 126, 165, 152, 94, 118, 163, 187, 100, 96, 127, 97, 125, 161, 184, 236, 187, 39, 67, 104, 130, 173, 216, 242, 172, 217, 210, 84, 108, 143, 151, 206, 155, 52, 115, 172, 201, 126, 172, 181, 89, 125, 154, 145, 211, 187, 96, 70, 109, 157, 12, 52, 111, 163, 234, 200, 65, 109, 182, 211, 66, 62, 118, 57, 124, 156, 74, 122, 169, 164, 79, 92, 176, 172, 109, 49, 138, 162, 146, 53, 101, 166, 189, 103, 68, 106, 205, 165, 86, 210, 117, 55, 136, 225, 210, 97, 172, 140, 41, 123, 201, 243, 108, 104, 90, 69, 142, 189, 173, 154, 143, 135, 96, 155, 229, 14, 102, 134, 2, 56, 164, 248, 127, 133, 221, 89, 111, 189] },
        { ImageInterpolation.Bilinear, 13, 11, [0, 20, 46, 71, 97, 122, 148, 174, 199, 205, 54, 20, 40, 41, 65, 95, 124, 154, 147, 97, 127, 156, 175, 108, 105, 129, 99, 127, 157, 176, 210, 174, 48, 84, 110, 131, 166, 202, 229, 157, 189, 187, 100, 127, 146, 139, 181, 150, 76, 117, 159, 191, 122, 159, 168, 102, 136, 154, 137, 184, 168, 108, 90, 115, 152, 17, 58, 111, 163, 216, 190, 65, 118, 170, 203, 79, 72, 113, 75, 120, 141, 87, 133, 162, 156, 101, 110, 161, 155, 117, 74, 133, 145, 134, 69, 119, 161, 177, 112, 92, 114, 177, 156, 105, 191, 120, 77, 130, 199, 197, 105, 159, 132, 59, 128, 187, 229, 109, 105, 95, 74, 139, 178, 173, 152, 140, 133, 112, 155, 214, 34, 96, 116, 19, 79, 158, 238, 140, 141, 201, 104, 124, 186] },
    };

    // Pillow keeps 22 fraction bits in its weights, this library 14: a pixel may round the other way, by one level.
    [Theory]
    [MemberData(nameof(PillowGrayResults))]
    public void Eight_bit_results_are_pillow_s_within_one_level(ImageInterpolation filter, int width, int height, byte[] expected)
    {
        var actual = FilteredResize.Sample(Gray9x7, 9, 7, 1, 0, 0, 9, 7, width, height, 0, 0, width, height, filter);
        var differences = expected.Zip(actual, (a, b) => Math.Abs(a - b)).ToArray();
        Assert.True(differences.Max() <= 1, $"largest difference {differences.Max()}");
        Assert.True(differences.Count(d => d > 0) <= expected.Length / 20, $"{differences.Count(d => d > 0)} of {expected.Length} values differ");
    }

    // A region resized as if cut out first, and a window of the result: the same pixels as resizing the region alone
    // and cropping.
    [Theory]
    [InlineData(ImageInterpolation.Bicubic)]
    [InlineData(ImageInterpolation.Bilinear)]
    public void A_region_and_a_window_are_the_region_resized_then_cropped(ImageInterpolation filter)
    {
        var region = new byte[5 * 4];
        for (var y = 0; y < 4; y++)
            for (var x = 0; x < 5; x++)
                region[y * 5 + x] = Gray9x7[(y + 2) * 9 + x + 3];
        var whole = FilteredResize.Sample(region, 5, 4, 1, 0, 0, 5, 4, 11, 8, 0, 0, 11, 8, filter);

        var window = FilteredResize.Sample(Gray9x7, 9, 7, 1, 3, 2, 5, 4, 11, 8, 2, 3, 6, 4, filter);

        for (var y = 0; y < 4; y++)
            for (var x = 0; x < 6; x++)
                Assert.Equal(whole[(y + 3) * 11 + x + 2], window[y * 6 + x]);
    }
}
