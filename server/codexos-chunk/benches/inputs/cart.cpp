#include <algorithm>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace shop {

/// Something a customer can buy, priced in cents.
struct Item {
    std::string id;
    std::string name;
    long cents = 0;
};

/// Lowers a cart's total.
class Discount {
public:
    virtual ~Discount() = default;
    virtual long apply(long cents) const = 0;
};

class Percent final : public Discount {
public:
    explicit Percent(long percent) : percent_(percent) {}
    long apply(long cents) const override { return cents - cents * percent_ / 100; }

private:
    long percent_;
};

/// A shopping cart: the items a customer picked and how many of each.
template <typename Clock>
class Cart {
public:
    enum class State { Open, CheckingOut, Paid };

    Cart() = default;
    Cart(const Cart&) = delete;
    Cart& operator=(const Cart&) = delete;

    /// Adds `count` of an item; adding an item twice adds up the counts.
    Cart& add(const Item& item, int count = 1) {
        if (state_ != State::Open) {
            throw std::logic_error("cannot add to a closed cart");
        }
        auto [line, inserted] = lines_.try_emplace(item.id, Line{item, 0});
        line->second.count += count;
        touched_ = Clock::now();
        return *this;
    }

    bool remove(const std::string& id) { return lines_.erase(id) > 0; }

    void apply(std::unique_ptr<Discount> discount) { discounts_.push_back(std::move(discount)); }

    long total() const;

private:
    struct Line {
        Item item;
        int count;
    };

    std::map<std::string, Line> lines_;
    std::vector<std::unique_ptr<Discount>> discounts_;
    State state_ = State::Open;
    typename Clock::time_point touched_{};
};

/// The total in cents after discounts, never below zero.
template <typename Clock>
long Cart<Clock>::total() const {
    long cents = 0;
    for (const auto& [id, line] : lines_) {
        cents += line.item.cents * line.count;
    }
    for (const auto& discount : discounts_) {
        cents = discount->apply(cents);
    }
    return std::max(0L, cents);
}

bool operator==(const Item& a, const Item& b) { return a.id == b.id; }

}  // namespace shop
