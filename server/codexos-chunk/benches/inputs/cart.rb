# frozen_string_literal: true

require "json"

module Shop
  # Something a customer can buy, priced in cents.
  Item = Struct.new(:id, :name, :cents, keyword_init: true)

  # Raised when a closed cart is changed.
  class ClosedError < StandardError; end

  # A shopping cart: the items a customer picked, how many of each, and what they cost
  # together once discounts apply.
  class Cart
    include Enumerable

    attr_reader :state

    def initialize
      @lines = {}
      @discounts = []
      @state = :open
    end

    # Adds +count+ of an item; adding an item twice adds up the counts.
    def add(item, count = 1)
      raise ClosedError, "cannot add to a cart that is #{@state}" unless @state == :open

      line = (@lines[item.id] ||= { item: item, count: 0 })
      line[:count] += count
      self
    end

    def remove(item)
      !@lines.delete(item.id).nil?
    end

    def each(&block)
      @lines.each_value { |line| block.call(line[:item], line[:count]) }
    end

    def empty? = @lines.empty?

    # The total in cents after discounts, never below zero.
    def total
      cents = sum { |item, count| item.cents * count }
      @discounts.each { |discount| cents = discount.call(cents) }
      [cents, 0].max
    end

    def to_json(*args)
      { state: @state, total: total, lines: map { |item, count| [item.name, count] } }.to_json(*args)
    end

    class << self
      def from_json(text)
        new.tap do |cart|
          JSON.parse(text).fetch("lines").each { |name, count| cart.add(Item.new(id: name, name: name, cents: 0), count) }
        end
      end
    end
  end
end
