using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.MLNet;

/// <summary>Images of the model's side (after ML.NET's ResizeImages), resampled by an <see cref="ImageResampler"/>.</summary>
internal sealed class ImageInput(string columnName, string userColumn, ImageResampler resampler) : ModelInput(columnName, userColumn)
{
    /// <summary>How the images are resampled.</summary>
    public ImageResampler Resampler => resampler;

    public override Reader Open(DataViewRow row) => new ImageReader(this, row.GetGetter<MLImage>(row.Schema[ColumnName]));

    private sealed class ImageReader(ImageInput input, ValueGetter<MLImage> getter) : Reader
    {
        private readonly ImageResampler.Scratch scratch = new(input.Resampler);
        // Kept between rows, as ML.NET's ExtractPixels keeps it: the getter releases the previous image.
        private MLImage? image;

        public override void Fetch() => getter(ref image!);

        public override void Write(long row, Span<float> destination)
        {
            // ExtractPixels, which the saved model runs, turns a missing image into zeros; so does this.
            if (image is null)
            {
                destination.Clear();
                return;
            }
            try
            {
                input.Resampler.Write(image, destination, scratch);
            }
            catch (InvalidOperationException e)
            {
                throw new InvalidOperationException($"EfficientVitFeaturize: row {row} of column '{input.UserColumn}': {e.Message}", e);
            }
        }

        public override void Dispose()
        {
            image?.Dispose();
            image = null;
        }
    }
}
