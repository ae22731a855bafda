// The seed's activation-choice guide, one small experiment per row, on Fashion-MNIST (or any MNIST-format data):
//   binary output    - Sigmoid + BCELoss versus logits + BCEWithLogitsLoss on two classes
//   multiclass output - Softmax (cross-entropy on logits) versus independent Sigmoids (one-vs-rest)
//   RNN              - an RNN reading each image row by row, tanh versus relu
//   GAN              - a small GAN whose discriminator uses ReLU versus LeakyReLU(0.2)
// Each returns its curves and numbers; with a logdir each training writes a TensorBoard run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "actlab/lab/train.h"

namespace actlab::lab {

struct GuideBudget {
  int64_t steps = 400;        // optimizer steps per variant
  int64_t batch_size = 64;
  int64_t eval_images = 10000;  // test images evaluated (at most the split's size)
  uint64_t seed = 0;
};

// Expected calibration error of confidences in [0, 1] against 0/1 correctness, over 10 equal-width bins.
double expected_calibration_error(const std::vector<double>& confidence, const std::vector<double>& correct);

// The images of two classes with labels 0 (class a) and 1 (class b) as float32 [N, 1].
Split select_two_classes(const Split& split, int64_t a, int64_t b);

struct BinaryVariant {
  std::string name;                 // "Sigmoid + BCELoss" | "logits + BCEWithLogitsLoss"
  double test_accuracy = 0;
  double ece = 0;                   // calibration of the predicted probability
  double saturated_grad = 0;        // d loss / d logit at logit -120 with target 1 (a confidently wrong case)
  double saturated_loss = 0;
  std::vector<double> losses;       // per step
};
struct BinaryResult {
  int64_t class_a = 0, class_b = 0;
  int64_t train_images = 0, test_images = 0;
  std::vector<BinaryVariant> variants;  // Sigmoid + BCELoss first
};
BinaryResult binary_experiment(const Split& train, const Split& test, int64_t class_a, int64_t class_b,
                               const GuideBudget& budget, const std::string& logdir = "");

struct MulticlassVariant {
  std::string name;                 // "Softmax (cross-entropy)" | "independent Sigmoids (one-vs-rest BCE)"
  double test_accuracy = 0;
  double ece = 0;                   // calibration of the top-class probability
  double mean_abs_sum_deviation = 0;  // mean over test images of |sum of class probabilities - 1|
  std::vector<double> losses;
};
struct MulticlassResult {
  std::vector<MulticlassVariant> variants;  // Softmax first
};
MulticlassResult multiclass_experiment(const Split& train, const Split& test, const GuideBudget& budget,
                                       const std::string& logdir = "");

struct RnnVariant {
  std::string nonlinearity;               // "tanh" | "relu"
  std::vector<double> grad_norm_through_time_init;     // ||dL/dx_t|| for each row t, at initialization
  std::vector<double> grad_norm_through_time_trained;  // the same after training (empty if diverged)
  std::vector<double> losses;             // per step (until divergence)
  std::vector<double> grad_norms;         // total parameter gradient norm per step
  double max_grad_norm = 0;
  double test_accuracy = 0;
  bool diverged = false;                  // a non-finite loss stopped training
  int64_t diverged_at_step = -1;
};
struct RnnResult {
  int64_t hidden_size = 0;
  double lr = 0;
  std::vector<RnnVariant> variants;  // tanh first
};
RnnResult rnn_experiment(const Split& train, const Split& test, const GuideBudget& budget,
                         const std::string& logdir = "", int64_t hidden_size = 64, double lr = 0.02);

struct GanVariant {
  std::string discriminator_act;          // "ReLU" | "LeakyReLU(0.2)"
  std::vector<double> d_losses, g_losses;  // per step
  std::vector<double> generator_grad;     // per step: mean over the batch of ||d loss_G / d fake image||
  double mean_generator_grad = 0;         // over the steps
  double small_grad_fraction = 0;         // steps where generator_grad < 1e-3 (a stalled generator)
  double d_dead_fraction = 0;             // discriminator hidden units dead on the final batch
};
struct GanResult {
  std::vector<GanVariant> variants;  // ReLU first
};
GanResult gan_experiment(const Split& train, const GuideBudget& budget, const std::string& logdir = "");

}  // namespace actlab::lab
